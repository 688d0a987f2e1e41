// `mesh lab down`: remove everything a lab made, from lab.json AND from the naming prefix (a crashed `up`
// may have created more than it recorded). Idempotent: a second run finds nothing and says so.
import {existsSync, readFileSync, readdirSync, rmSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'

import {DEFAULT_DIR, DEFAULT_PREFIX, bridgeName, checkPrefix, labPaths, routerName, uplinkName} from './naming.js'
import {deleteLink, deleteNamespace, listLinks, listNamespaces, namespacePids} from './network.js'
import {readLabState} from './state.js'
import {cmdlineText, killAll, pidsWithCmdline, tryRun} from './sys.js'
import {LabDownResult, Progress} from './types.js'

export interface LabDownOptions {
  dir?: string
  /** Used when lab.json is missing; lab.json's own prefix wins when present. */
  prefix?: string
  onProgress?: Progress
}

export async function labDown(opts: LabDownOptions = {}): Promise<LabDownResult> {
  const paths = labPaths(opts.dir ?? DEFAULT_DIR)
  const state = readLabState(paths)
  const prefixes = [...new Set([state?.prefix, opts.prefix ?? (state ? undefined : DEFAULT_PREFIX)].filter((p): p is string => Boolean(p)))]
  prefixes.forEach(checkPrefix)
  const progress = opts.onProgress ?? (() => {})

  const namespaces = new Set([...(state?.hosts.map((h) => h.namespace) ?? []), ...(state?.router ? [state.router] : [])])
  const existing = listNamespaces()
  for (const ns of existing) if (prefixes.some((p) => ns.startsWith(`${p}-host-`) || ns === routerName(p))) namespaces.add(ns)
  const liveNamespaces = [...namespaces].filter((ns) => existing.includes(ns))

  // Every process in the hosts' network namespaces, the recorded sshds (if still theirs), and any sshd
  // running from this lab directory (in case its namespace was already deleted).
  const pids = liveNamespaces.flatMap(namespacePids)
  for (const h of state?.hosts ?? []) {
    if (h.pid !== undefined && cmdlineText(h.pid)?.includes(h.sshdConfig)) pids.push(h.pid)
  }
  pids.push(...pidsWithCmdline(`${paths.machines}/`).filter((p) => cmdlineText(p)?.includes('/sshd_config')))
  if (pids.length) progress(`stopping ${new Set(pids).size} processes`)
  const killedPids = await killAll(pids)

  // The uplink to the router (or, in a lab from before routing, the bridge): deleted after the host links.
  const bridges = new Set([state?.bridge, ...prefixes.flatMap((p) => [bridgeName(p), uplinkName(p)])].filter((b): b is string => Boolean(b)))
  const vethsRecorded = new Set(state?.hosts.map((h) => h.veth) ?? [])
  const links = listLinks().filter((l) => bridges.has(l) || vethsRecorded.has(l) || prefixes.some((p) => new RegExp(`^${p}-h\\d+$`).test(l)))
  // Root-namespace veths (each takes its peer along), then the uplink or bridge, then the namespaces (the router's
  // veths go with it). Nothing else to restore: the lab changes no setting outside its own namespaces.
  const linksDeleted = links.sort((a, b) => Number(bridges.has(a)) - Number(bridges.has(b))).filter((l) => {
    progress(`deleting link ${l}`)
    return deleteLink(l)
  })

  const namespacesDeleted = liveNamespaces.filter((ns) => {
    progress(`deleting namespace ${ns}`)
    return deleteNamespace(ns)
  })

  const unmounted = unmountUnder(paths.dir)
  const filesRemoved = removeLabFiles(paths.dir)
  const alreadyClean = !killedPids.length && !namespacesDeleted.length && !linksDeleted.length && !unmounted.length && !filesRemoved.length
  return {dir: paths.dir, prefix: prefixes.join(','), killedPids, namespacesDeleted, linksDeleted, unmounted, filesRemoved, alreadyClean}
}

/** The lab mounts only inside the hosts' private namespaces; anything under the lab dir in ours is a leftover. */
function unmountUnder(dir: string): string[] {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => Boolean(m) && (m === dir || m.startsWith(`${dir}/`)))
  // Deepest first.
  return mounts.sort((a, b) => b.length - a.length).filter((m) => tryRun('umount', ['-l', m]).status === 0)
}

const LAB_FILES = ['lab.json', 'lab.json.tmp', 'inventory.yaml', 'known_hosts', 'id_ed25519', 'id_ed25519.pub', 'machines']

/** Only the names the lab writes; the directory itself goes only if that leaves it empty. */
function removeLabFiles(dir: string): string[] {
  const removed = LAB_FILES.map((f) => join(dir, f)).filter((f) => {
    if (!existsSync(f)) return false
    rmSync(f, {recursive: true, force: true})
    return true
  })
  if (removed.length && readdirSync(dir).length === 0) {
    rmdirSync(dir)
    removed.push(dir)
  }
  return removed
}
