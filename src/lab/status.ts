// `mesh lab status`: the recorded hosts, whether their namespace and sshd exist, and whether sshd answers.
import {probeSsh} from './host.js'
import {DEFAULT_DIR, labPaths} from './naming.js'
import {linkIsUp, listNamespaces} from './network.js'
import {requireLabState} from './state.js'
import {cmdlineText, pidAlive} from './sys.js'
import {LabHostStatus, LabStatusResult} from './types.js'

export interface LabStatusOptions {
  dir?: string
  probeTimeoutMs?: number
}

export async function labStatus(opts: LabStatusOptions = {}): Promise<LabStatusResult> {
  const state = requireLabState(labPaths(opts.dir ?? DEFAULT_DIR))
  const namespaces = new Set(listNamespaces())
  const hosts = await Promise.all(
    state.hosts.map(async (h): Promise<LabHostStatus> => {
      const sshdRunning = h.pid !== undefined && pidAlive(h.pid) && Boolean(cmdlineText(h.pid)?.includes(h.sshdConfig))
      const sshBanner = (await probeSsh(h.address, h.sshPort, opts.probeTimeoutMs ?? 2000)) ?? undefined
      return {name: h.name, namespace: h.namespace, address: h.address, pid: h.pid, namespaceExists: namespaces.has(h.namespace), sshdRunning, sshBanner}
    }),
  )
  return {
    dir: state.dir,
    prefix: state.prefix,
    bridge: state.bridge,
    bridgeUp: linkIsUp(state.bridge),
    inventory: state.inventory,
    hosts,
    healthy: hosts.every((h) => h.namespaceExists && h.sshdRunning && h.sshBanner !== undefined),
  }
}
