// Planning (pyinfra style): facts gathered from a host + its desired state -> the changes to make.
// Pure: no I/O. An empty plan means the host is already as desired and nothing will be touched.
import {DesiredFile, HostDesired, isOwned} from './desired.js'
import {HostsLineChanges, planHostsFile} from './hosts-plan.js'
import {WgChange, changedInterfaceKeys, classifyWgChange, normalizeList, parseWgQuick} from './wgconf.js'
import type {HostKeyFacts} from './host-keys.js'

export const HOSTS_PATH = '/etc/hosts'

export interface RunningPeer {
  publicKey: string
  allowedIps: string[]
  /** Seconds, 0 = off; undefined when not read. */
  keepalive?: number
}

/** Owner (user name, as `stat -c %U` prints it) and permission bits of a present file. */
export interface FileMeta {
  owner: string
  mode: number
}

export interface ApplyHostFacts {
  /** Current contents of the files we manage (null = absent), by path. */
  files: Map<string, string | null>
  /** Owner and mode of the present ones; a path missing here is compared by content only. */
  meta?: Map<string, FileMeta>
  /** /etc/hosts as it is now. */
  hosts: string
  /** Peers of the running interface, or null when the interface is down. */
  running: RunningPeer[] | null
  /** The running interface's UDP port, when read. */
  runningListenPort?: number
  /** Paths whose activation was checked (DesiredFile.isActive) and found not in effect. */
  inactive?: Set<string>
  /** systemd is the init system (enable wg-quick@<if> so the mesh survives a reboot). */
  systemd: boolean
  unitEnabled: boolean
  /** Managed paths (and /etc/hosts) that are symlinks, with their resolved target: writes go through to it. */
  links?: Map<string, string>
  /** Paths left half-written by an interrupted in-place write, read from their backup (apply restores it first). */
  torn?: string[]
  /** network.keys: host: the public keys of the host's own key files. */
  hostKey?: HostKeyFacts
}

export interface FileChange {
  path: string
  /** delete: a managed file no longer desired (after is ''); it is removed after `deactivate`. */
  kind: 'create' | 'update' | 'delete'
  before: string | null
  after: string
  mode: number
  secret: boolean
  /** Owner to give the file (default root). */
  owner?: string
  /** Owner and mode before, when known: restored on rollback, shown when they change. */
  beforeMeta?: FileMeta
  /** The path is a symlink to this file: it is written through to it and stays a link. */
  linkTarget?: string
  activate?: string[]
  deactivate?: string[]
}

const ROOT = 'root'

export type InterfaceAction =
  | {kind: 'none'}
  | {kind: 'up'; reason: string}
  | {kind: 'syncconf'; reason: string}
  | {kind: 'restart'; reason: string}

export interface HostPlan {
  name: string
  files: FileChange[]
  iface: InterfaceAction
  enableUnit: boolean
  /** Unchanged files whose activation is not in effect (e.g. the firewall table after a reboot): re-run it. */
  reactivate: {path: string; activate: string[]}[]
  /** Changes that interrupt traffic (shown in the plan so nobody is surprised). */
  disruptive: boolean
  /** /etc/hosts lines outside the block that this run neutralizes or restores (absent: none). */
  hostsLines?: HostsLineChanges
  /** What the plan should say about the host beyond its changes (a torn file restored first). */
  notes?: string[]
}

export const isNoop = (p: HostPlan) => p.files.length === 0 && p.iface.kind === 'none' && !p.enableUnit && p.reactivate.length === 0

/**
 * The running interface differs from its config although the file is in place: someone ran `wg set` by
 * hand, or an earlier apply lost its connection after writing the file but before `wg syncconf`.
 */
function runningDrift(facts: ApplyHostFacts, config: string): string | null {
  const running = facts.running ?? []
  const parsed = parseWgQuick(config)
  const want = new Map(parsed.peers.map((p) => [p.get('publickey') ?? '', {ips: normalizeList(p.get('allowedips')), ka: Number(p.get('persistentkeepalive') ?? 0)}]))
  const have = new Map(running.map((p) => [p.publicKey, {ips: normalizeList(p.allowedIps.join(',')), ka: p.keepalive}]))
  const missing = [...want.keys()].filter((k) => !have.has(k)).length
  const extra = [...have.keys()].filter((k) => !want.has(k)).length
  // Keepalive is compared only when the facts have it.
  const differs = (w: {ips: string; ka: number}, h: {ips: string; ka?: number}) => w.ips !== h.ips || (h.ka !== undefined && h.ka !== w.ka)
  const changed = [...want].filter(([k, w]) => have.has(k) && differs(w, have.get(k)!)).length
  const port = parsed.iface.get('listenport')
  const portDrift = port !== undefined && facts.runningListenPort !== undefined && Number(port) !== facts.runningListenPort
  if (!missing && !extra && !changed && !portDrift) return null
  const parts = [`${missing} missing`, `${extra} unknown`, `${changed} with other allowed IPs or keepalive`]
  if (portDrift) parts.push(`listening on ${facts.runningListenPort}, not ${port}`)
  return `running interface differs from the config (${parts.join(', ')})`
}

function interfaceAction(change: WgChange, before: string | null, after: string, facts: ApplyHostFacts): InterfaceAction {
  if (facts.running === null) return {kind: 'up', reason: 'interface is down: wg-quick up'}
  if (change === 'interface') {
    const keys = before ? changedInterfaceKeys(before, after).filter((k) => !['privatekey', 'listenport', 'fwmark'].includes(k)) : []
    return {kind: 'restart', reason: `interface settings changed (${keys.join(', ') || 'new config'}): wg-quick down/up`}
  }
  if (change === 'peers') return {kind: 'syncconf', reason: 'peers changed: wg syncconf (hitless)'}
  const drift = runningDrift(facts, after)
  return drift ? {kind: 'syncconf', reason: `${drift}: wg syncconf (hitless)`} : {kind: 'none'}
}

/** Content, owner or mode differ from the facts: the change to make, else null. */
function fileChange(f: DesiredFile, facts: ApplyHostFacts): FileChange | null {
  const before = facts.files.get(f.path) ?? null
  const meta = before === null ? undefined : facts.meta?.get(f.path)
  const metaDiffers = meta !== undefined && (meta.owner !== (f.owner ?? ROOT) || meta.mode !== f.mode)
  if (before === f.content && !metaDiffers) return null
  const {path, content: after, mode, secret, owner, activate, deactivate} = f
  return {path, kind: before === null ? 'create' : 'update', before, after, mode, secret, owner, beforeMeta: meta, activate, deactivate}
}

/** Managed paths present on the host but no longer desired (e.g. the firewall after beam.firewall: false). */
function retiredFiles(desired: HostDesired, facts: ApplyHostFacts): FileChange[] {
  const wanted = new Set([desired.wgConfig.path, ...desired.extraFiles.map((f) => f.path)])
  return desired.managed
    .filter((m) => !wanted.has(m.path) && (facts.files.get(m.path) ?? null) !== null && isOwned(m, facts.files))
    .map((m): FileChange => {
      const beforeMeta = facts.meta?.get(m.path)
      // Shown by path only; secret: whatever it held is never printed.
      return {path: m.path, kind: 'delete', before: facts.files.get(m.path)!, after: '', mode: beforeMeta?.mode ?? 0o600, secret: true, beforeMeta, activate: m.activate, deactivate: m.deactivate}
    })
}

export function planHost(desired: HostDesired, facts: ApplyHostFacts, iface: string): HostPlan {
  const files: FileChange[] = []
  for (const f of desired.extraFiles) {
    const change = fileChange(f, facts)
    if (change) files.push(change)
  }
  files.push(...retiredFiles(desired, facts))

  const hosts = planHostsFile(facts.hosts, desired.hostsBlock, desired.meshNames, iface, `${desired.host.name}:${HOSTS_PATH}`)
  if (hosts.after !== facts.hosts) {
    files.push({path: HOSTS_PATH, kind: 'update', before: facts.hosts, after: hosts.after, mode: 0o644, secret: false})
  }

  const wg = desired.wgConfig
  const wgBefore = facts.files.get(wg.path) ?? null
  const change = classifyWgChange(wgBefore, wg.content)
  // Content compared as wg-quick sees it; owner and mode as for any file (a config left 0644 is fixed).
  const wgFile = fileChange(wg, facts)
  if (wgFile) files.push({...wgFile, secret: true})

  const action = interfaceAction(change, wgBefore, wg.content, facts)
  for (const f of files) if (facts.links?.has(f.path)) f.linkTarget = facts.links.get(f.path)
  const torn = (facts.torn ?? []).map((p) => `${p} was left half-written by an interrupted write: planned from its backup, which apply puts back first`)
  return {
    ...(torn.length ? {notes: torn} : {}),
    name: desired.host.name,
    files,
    iface: action,
    enableUnit: facts.systemd && !facts.unitEnabled,
    reactivate: desired.extraFiles
      .filter((f) => f.activate && facts.inactive?.has(f.path) && !files.some((c) => c.path === f.path))
      .map((f) => ({path: f.path, activate: f.activate!})),
    disruptive: action.kind === 'restart',
    ...(hosts.neutralized.length || hosts.restored.length ? {hostsLines: {neutralized: hosts.neutralized, restored: hosts.restored}} : {}),
  }
}

/**
 * All a planned host keeps of its facts: what executing its plan, and rolling it back, needs. The rest (the
 * files read, /etc/hosts, every running peer: each O(fleet) per host) is dropped once the host is planned, so a
 * fleet's facts are not all held until the end of the run.
 */
export interface RollbackFacts {
  /** The interface was up before this apply: a rollback brings it back with the old config, else takes it down. */
  wasUp: boolean
  /** Contents before this apply (null = absent) of the files the plan changes, and of the wg config when the interface is touched. */
  files: Map<string, string | null>
}

export function rollbackFacts(facts: ApplyHostFacts, plan: HostPlan, wgConfigPath: string): RollbackFacts {
  const keep = new Set(plan.files.map((f) => f.path))
  if (plan.iface.kind !== 'none') keep.add(wgConfigPath)
  return {wasUp: facts.running !== null, files: new Map([...facts.files].filter(([path]) => keep.has(path)))}
}
