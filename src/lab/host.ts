// A lab host's processes: sshd started detached inside the host's namespaces, and probes of its port.
import {spawn} from 'node:child_process'
import {closeSync, existsSync, openSync, readFileSync} from 'node:fs'
import {connect} from 'node:net'

import {ConnectionError, ExternalCommandError} from '../core/errors.js'
import {HostPaths} from './naming.js'
import {SYSTEM_PATH, pidAlive, sleep, which} from './sys.js'
import {LabHost, LabMount} from './types.js'

/** Runs inside `unshare -m -u`: own hostname, /run/wireguard, /etc/hosts, /etc/wireguard, /etc/beam-mesh and /root, then sshd. */
const HOST_SCRIPT = [
  'set -e',
  'hostname "$1"',
  // Mount points must exist in the shared filesystem; creating empty directories there is harmless.
  'mkdir -p /run/wireguard /run/sshd /etc/wireguard /etc/beam-mesh',
  'mount -t tmpfs -o mode=0755 tmpfs /run/wireguard',
  'mount --bind "$2" /etc/hosts',
  'mount --bind "$3" /etc/wireguard',
  'mount --bind "$6" /etc/beam-mesh',
  'mount --bind "$7" /root',
  'exec "$4" -D -e -f "$5"',
].join('\n')

export function hostMounts(p: HostPaths): LabMount[] {
  return [
    {target: '/run/wireguard', source: 'tmpfs', type: 'tmpfs'},
    {target: '/etc/hosts', source: p.etcHosts, type: 'bind'},
    {target: '/etc/wireguard', source: p.wireguard, type: 'bind'},
    {target: '/etc/beam-mesh', source: p.beamMesh, type: 'bind'},
    {target: '/root', source: p.rootHome, type: 'bind'},
  ]
}

/**
 * Starts the host: `ip netns exec` -> `unshare` -> sh -> sshd, each exec'ing the next, so the returned pid ends up
 * being sshd's. Detached (own session, stdio to a log file) so `mesh lab up` can exit while it keeps running.
 */
export function startHost(host: LabHost, p: HostPaths): number {
  const log = openSync(p.log, 'a', 0o600)
  try {
    const args = ['netns', 'exec', host.namespace, which('unshare')!, '-m', '-u', '--propagation', 'private']
    args.push('/bin/sh', '-c', HOST_SCRIPT, 'lab-host', host.name, p.etcHosts, p.wireguard, which('sshd')!, p.sshdConfig, p.beamMesh, p.rootHome)
    // spawn, not execa: the daemon outlives this process (unref'd, never awaited); execa would track its exit.
    const child = spawn('ip', args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: {PATH: SYSTEM_PATH, LANG: 'C.UTF-8'},
    })
    child.unref()
    if (child.pid === undefined) throw new ExternalCommandError(host.name, `ip ${args.join(' ')}`, null, 'could not start')
    return child.pid
  } finally {
    closeSync(log)
  }
}

/** Connects to addr:port and returns the SSH banner, or null when nothing answers within `timeoutMs`. */
export function probeSsh(address: string, port: number, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({host: address, port, timeout: timeoutMs})
    let buf = ''
    const done = (v: string | null) => {
      sock.destroy()
      resolve(v)
    }
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0) done(buf.startsWith('SSH-') ? buf.slice(0, nl).trim() : null)
    })
    sock.on('timeout', () => done(null))
    sock.on('error', () => done(null))
    sock.on('close', () => done(buf.startsWith('SSH-') ? buf.trim() : null))
  })
}

function logTail(p: HostPaths): string {
  if (!existsSync(p.log)) return ''
  return readFileSync(p.log, 'utf8').trim().split('\n').slice(-8).join('\n')
}

/** Waits (bounded) until the host's sshd answers; fails early, with its log, if sshd died. */
export async function waitForSsh(host: LabHost, p: HostPaths, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  const fix = "see sshd's log above; check the config with `sshd -t -f <config>` (a failed `mesh lab up` removes the half-made lab)"
  while (Date.now() < deadline) {
    if (host.pid !== undefined && !pidAlive(host.pid)) {
      throw new ConnectionError(host.name, `sshd (in namespace ${host.namespace}) exited during start-up:\n${logTail(p)}`, fix)
    }
    // sshd re-executes itself for each connection: on a loaded machine its banner can take seconds.
    const banner = await probeSsh(host.address, host.sshPort, 3000)
    if (banner) return banner
    await sleep(100)
  }
  throw new ConnectionError(host.name, `sshd did not answer on ${host.address}:${host.sshPort} within ${timeoutMs / 1000} s:\n${logTail(p)}`, fix)
}
