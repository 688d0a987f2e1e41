// Before the lab touches anything: root, Linux, and every program the lab and the e2e tests use.
import {UserError} from '../core/errors.js'
import {which} from './sys.js'

/** Program -> the Debian package that ships it. */
export const LAB_PROGRAMS: Record<string, string> = {
  ip: 'iproute2',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  wg: 'wireguard-tools',
  'wg-quick': 'wireguard-tools',
  'wireguard-go': 'wireguard-go',
  erl: 'erlang-base',
  epmd: 'erlang-base',
  ping: 'iputils-ping',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  mount: 'mount',
  hostname: 'hostname',
}

export interface LabPrerequisites {
  ok: boolean
  /** Why the lab cannot run here, one sentence (empty when ok). */
  reason: string
  isRoot: boolean
  isLinux: boolean
  missingPrograms: string[]
  /** Debian packages to install, sorted and de-duplicated. */
  missingPackages: string[]
}

export function checkLabPrerequisites(): LabPrerequisites {
  const isLinux = process.platform === 'linux'
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const missingPrograms = isLinux ? Object.keys(LAB_PROGRAMS).filter((p) => which(p) === null) : []
  const missingPackages = [...new Set(missingPrograms.map((p) => LAB_PROGRAMS[p]))].sort()
  const reasons: string[] = []
  if (!isLinux) reasons.push(`the lab needs Linux network namespaces (this is ${process.platform})`)
  if (!isRoot) reasons.push('the lab needs root (network namespaces, bridges, mounts)')
  if (missingPrograms.length) {
    reasons.push(`missing programs: ${missingPrograms.join(', ')} (apt-get install -y ${missingPackages.join(' ')})`)
  }
  return {ok: reasons.length === 0, reason: reasons.join('; '), isRoot, isLinux, missingPrograms, missingPackages}
}

/** Throws a UserError that says exactly what to do. */
export function assertLabPrerequisites(): void {
  const p = checkLabPrerequisites()
  if (!p.isLinux) throw new UserError(`mesh lab only runs on Linux (this is ${process.platform})`, 'run it in a Linux VM or container with root')
  if (!p.isRoot) throw new UserError('mesh lab needs root: it creates network namespaces, a bridge and mounts', 'run it as root, e.g. sudo mesh lab up')
  if (p.missingPrograms.length) {
    const byPkg = p.missingPackages.map((pkg) => `${pkg} (${p.missingPrograms.filter((m) => LAB_PROGRAMS[m] === pkg).join(', ')})`)
    throw new UserError(`mesh lab needs programs that are not installed: ${byPkg.join(', ')}`, `apt-get install -y ${p.missingPackages.join(' ')}`)
  }
}
