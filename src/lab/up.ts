// `mesh lab up`: N test hosts, each a network namespace + private mount/UTS namespace running its own sshd.
import {mkdirSync, writeFileSync} from 'node:fs'

import {writeLabState} from './state.js'
import {generateKey, inventoryYaml, knownHostsLine, writeHostFiles} from './files.js'
import {hostMounts, startHost, waitForSsh} from './host.js'
import {
  DEFAULT_DIR,
  DEFAULT_PREFIX,
  checkHostCount,
  checkPrefix,
  hostName,
  hostPaths,
  labNet,
  labPaths,
  namespaceName,
  routerName,
  uplinkName,
  vethName,
} from './naming.js'
import {assertNetworkFree} from './network.js'
import {createHostLink, createRouter} from './routing.js'
import {assertLabPrerequisites} from './prereq.js'
import {labDown} from './down.js'
import {LabHost, LabState, LabUpResult, Progress} from './types.js'

export interface LabUpOptions {
  hosts: number
  dir?: string
  prefix?: string
  /** Bound on waiting for the sshds (default 10 s, or 1 s per host when more: 64 sshds start slowly on a busy machine). */
  sshTimeoutMs?: number
  /** 198.18.<net>.0/24; default 0. */
  net?: number
  onProgress?: Progress
}

export async function labUp(opts: LabUpOptions): Promise<LabUpResult> {
  assertLabPrerequisites()
  const n = checkHostCount(opts.hosts)
  const prefix = checkPrefix(opts.prefix ?? DEFAULT_PREFIX)
  const paths = labPaths(opts.dir ?? DEFAULT_DIR)
  const progress = opts.onProgress ?? (() => {})
  const uplink = uplinkName(prefix)
  const router = routerName(prefix)
  const net = labNet(opts.net)
  assertNetworkFree(prefix, net.gateway)

  const hosts: LabHost[] = Array.from({length: n}, (_, k) => {
    const i = k + 1
    const hp = hostPaths(paths, hostName(i))
    return {
      name: hostName(i),
      namespace: namespaceName(prefix, i),
      veth: vethName(prefix, i),
      address: net.hostAddress(i),
      sshPort: 22,
      dir: hp.dir,
      sshdConfig: hp.sshdConfig,
      etcHosts: hp.etcHosts,
      mounts: hostMounts(hp),
    }
  })
  const state: LabState = {
    version: 1,
    prefix,
    dir: paths.dir,
    bridge: uplink,
    router,
    subnet: net.subnet,
    gateway: net.gateway,
    createdAt: new Date().toISOString(),
    inventory: paths.inventory,
    identityFile: paths.identity,
    knownHostsFile: paths.knownHosts,
    hosts,
  }

  try {
    mkdirSync(paths.machines, {recursive: true, mode: 0o755})
    // Recorded before anything exists, so a crash at any later point can be undone by `mesh lab down`.
    writeLabState(paths, state)
    progress(`client key ${paths.identity}`)
    const clientKey = generateKey(paths.identity, 'beam-mesh-lab')
    progress(`router ${router}: ${uplink} ${net.gateway}/31 -> ${net.router}, routes ${net.subnet}`)
    createRouter(router, uplink, net)

    const knownHosts: string[] = []
    for (const host of hosts) {
      const hp = hostPaths(paths, host.name)
      progress(`${host.name}: namespace ${host.namespace}, ${host.address}, sshd`)
      knownHosts.push(knownHostsLine(host.address, host.sshPort, writeHostFiles(host, hp, clientKey)))
      createHostLink(host, router, net)
      host.pid = startHost(host, hp)
      writeLabState(paths, state)
    }
    writeFileSync(paths.knownHosts, `${knownHosts.join('\n')}\n`, {mode: 0o644})
    writeFileSync(paths.inventory, inventoryYaml(paths, hosts), {mode: 0o644})

    const sshTimeoutMs = opts.sshTimeoutMs ?? Math.max(10_000, 1000 * n)
    progress(`waiting for ${n} sshd${n === 1 ? '' : 's'} (at most ${sshTimeoutMs / 1000} s)`)
    await Promise.all(hosts.map((h) => waitForSsh(h, hostPaths(paths, h.name), sshTimeoutMs)))
  } catch (err) {
    progress('lab up failed: removing what was created')
    await labDown({dir: paths.dir, prefix}).catch(() => {})
    throw err
  }

  const first = hosts[0]
  return {
    ...state,
    sshExample: `ssh -F /dev/null -i ${paths.identity} -o UserKnownHostsFile=${paths.knownHosts} -o StrictHostKeyChecking=yes root@${first.address}`,
  }
}
