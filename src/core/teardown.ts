// Tearing a removed host down (pure): facts gathered from it -> the steps that take beam-mesh off it.
// An empty plan means the host is already clean; only state.json then changes (teardownPending=false).
import {ApplyHostFacts, HOSTS_PATH} from './plan.js'
import {teardownHostsFile} from './hosts-plan.js'
import {peerNames} from './wgconf.js'

export type TeardownStep =
  | {kind: 'down'}
  | {kind: 'disable-unit'}
  | {kind: 'firewall'; table: string}
  | {kind: 'remove'; path: string}
  /** restored: the lines outside the block that apply had neutralized, back as they were. */
  | {kind: 'hosts'; before: string; after: string; restored: string[]}

export interface TeardownPlan {
  name: string
  steps: TeardownStep[]
}

/**
 * `paths` are the files beam-mesh may have written there (wg config first, then the mesh's BEAM files); the
 * facts were gathered for exactly those paths. The interface goes down before its config is removed.
 * `firewalls`: each firewall file with the nft table loaded from it.
 */
export function planTeardown(name: string, facts: ApplyHostFacts, paths: string[], iface: string, firewalls: {path: string; table: string}[] = []): TeardownPlan {
  const steps: TeardownStep[] = []
  if (facts.running !== null) steps.push({kind: 'down'})
  if (facts.unitEnabled) steps.push({kind: 'disable-unit'})
  // Our firewall file present -> our nft table was loaded from it: unload it before the file goes.
  for (const fw of firewalls) if ((facts.files.get(fw.path) ?? null) !== null) steps.push({kind: 'firewall', table: fw.table})
  for (const path of paths) if ((facts.files.get(path) ?? null) !== null) steps.push({kind: 'remove', path})
  const {after, restored} = teardownHostsFile(facts.hosts, iface, `${name}:${HOSTS_PATH}`)
  if (after !== facts.hosts) steps.push({kind: 'hosts', before: facts.hosts, after, restored})
  return {name, steps}
}

export function describeStep(step: TeardownStep, iface: string): string {
  switch (step.kind) {
    case 'down':
      return `wg-quick down ${iface}`
    case 'disable-unit':
      return `systemctl disable wg-quick@${iface}`
    case 'firewall':
      return `nft delete table inet ${step.table}`
    case 'remove':
      return `remove ${step.path}`
    case 'hosts':
      return `remove the beam-mesh block from ${HOSTS_PATH}${step.restored.length ? ` and restore ${step.restored.length} line(s) it had neutralized (${step.restored.map((l) => JSON.stringify(l)).join(', ')})` : ''}`
  }
}

/** "teardown: wg-quick down wg0, remove /etc/wireguard/wg0.conf, …" or "already torn down". */
export function describeTeardown(plan: TeardownPlan, iface: string): string {
  if (!plan.steps.length) return 'already torn down (nothing of beam-mesh left on it)'
  return `teardown: ${plan.steps.map((s) => describeStep(s, iface)).join(', ')}`
}

export interface PeerDelta {
  added: string[]
  removed: string[]
  /** Same name, new public key (a key rotation). */
  rekeyed: string[]
}

/** Peers added and removed between two wg-quick configs, by the "# <name>" line above each [Peer]. */
export function peerDelta(before: string | null, after: string): PeerDelta {
  const a = peerNames(before ?? '')
  const b = peerNames(after)
  const added = [...b].filter(([k]) => !a.has(k)).map(([, n]) => n)
  const removed = [...a].filter(([k]) => !b.has(k)).map(([, n]) => n)
  const rekeyed = added.filter((n) => removed.includes(n))
  return {added: added.filter((n) => !rekeyed.includes(n)), removed: removed.filter((n) => !rekeyed.includes(n)), rekeyed}
}

/** "peers: +Host-E -Host-D, new key: Host-A", or null when the set of peers is the same. */
export function describePeerDelta(d: PeerDelta): string | null {
  const parts = [...d.added.map((n) => `+${n}`), ...d.removed.map((n) => `-${n}`)]
  const text = [parts.length ? parts.join(' ') : '', d.rekeyed.length ? `new key: ${d.rekeyed.join(', ')}` : ''].filter(Boolean).join(', ')
  return text ? `peers: ${text}` : null
}
