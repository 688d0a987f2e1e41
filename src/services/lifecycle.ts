// What `mesh apply` does beyond pushing configs: finishing a key rotation (ordered so the outage is one
// handshake, then committed only when every host runs the new keys) and tearing down removed hosts.
import {commitRotation} from '../state/rotation.js'
import {commitSessionHostKeys, hostKeysToCommit} from './host-keys-apply.js'
import {nudgePeers} from '../remote/teardown-ops.js'
import type {ApplyProgress, ApplySession, HostResult, HostSession, RotationResult} from './apply-types.js'
import {TeardownResult, executeTeardowns, teardownWarnings} from './teardown.js'
import {settleFreshTunnels} from './fresh-tunnels.js'

export interface LifecycleResult {
  hosts: HostResult[]
  teardowns: TeardownResult[]
  rotation?: RotationResult
  warnings: string[]
}

const OK = new Set(['changed', 'unchanged'])

/** Anything to do besides host plans: teardowns (or just recording them) and committing a rotation. */
export function lifecycleWork(session: ApplySession): {remote: number; any: boolean} {
  const remote = session.teardowns.filter((t) => t.plan?.steps.length).length
  const rotating = session.loaded.pendingKeys.length + session.loaded.pendingPsks.length > 0 || hostKeysToCommit(session.loaded)
  return {remote, any: rotating || session.teardowns.some((t) => t.plan)}
}

/**
 * WireGuard knows a peer only by its public key, so no order is lossless. Peers go first: they drop the
 * rotated host's old session and wait for its new key. Then the rotated hosts switch keys (which also
 * lets them start a handshake at once) and send a packet to every peer: the outage is the time between
 * the two phases plus one handshake. A host rotated together with its peer is in the second phase too,
 * where the rotated hosts switch one at a time (see gate).
 */
export async function runLifecycle(
  session: ApplySession,
  execHosts: (list: HostSession[]) => Promise<HostResult[]>,
  progress: ApplyProgress,
): Promise<LifecycleResult> {
  const {loaded} = session
  const rotated = new Set(loaded.pendingKeys)
  const peers = session.sessions.filter((s) => !rotated.has(s.host.name))
  const keyed = session.sessions.filter((s) => rotated.has(s.host.name))
  const releaseAll = () => peers.forEach((p) => releases.get(p)?.())
  const nudge = (s: HostSession) => {
    progress.step(s.host.name, 'nudging peers to handshake with the new key')
    const ips = loaded.mesh.hosts.filter((h) => h.name !== s.host.name).map((h) => h.ipv4 ?? h.ipv6).filter(Boolean) as string[]
    return nudgePeers(s.remote!, ips)
  }
  const nudges: Promise<void>[] = []
  const [first, second] = await Promise.all([execHosts(peers.map(signalSync)).finally(releaseAll), execHosts(gate(keyed, peers, (s) => void nudges.push(nudge(s))))])
  // The nudges run beside the executors: each must have reached its host before the connections close, or a
  // peer that tried too early waits out REKEY_TIMEOUT (5 s) for its next handshake.
  await Promise.all(nudges)
  const byName = new Map([...first, ...second].map((r) => [r.name, r]))
  const hosts = session.sessions.map((s) => byName.get(s.host.name)!)
  // Hosts that came up together: their first sessions, checked (and a crossed pair started again) before the
  // apply reports them done.
  const tunnelWarnings = session.interrupted ? [] : await settleFreshTunnels(session, hosts, progress)

  // After a Ctrl-C no new host is started, removed ones included: their teardown stays pending.
  const teardowns = session.interrupted
    ? session.teardowns.map((t): TeardownResult => ({name: t.archived.name, status: 'skipped', steps: [], error: 'interrupted before the teardown started'}))
    : await executeTeardowns(session.teardowns, loaded.store, session.concurrency, progress.step.bind(progress))
  const warnings = [...tunnelWarnings, ...teardownWarnings(teardowns)]
  return {hosts, teardowns, rotation: await finishRotation(session, hosts), warnings}
}

// The two phases overlap as far as they can: the rotated hosts write their files while the peers do, and only
// their `wg syncconf` waits until every peer has passed its own. Done by wrapping RemoteHost.syncconf, so the
// per-host executor (and its rollback) stays the same for every apply.
const synced = new WeakMap<HostSession, Promise<void>>()
const releases = new WeakMap<HostSession, () => void>()

function signalSync(s: HostSession): HostSession {
  let done!: () => void
  synced.set(s, new Promise<void>((resolve) => (done = resolve)))
  releases.set(s, done)
  if (s.remote) {
    const sync = s.remote.syncconf.bind(s.remote)
    s.remote.syncconf = (n) => sync(n).finally(done)
  }
  if (!s.plan || s.plan.iface.kind !== 'syncconf') done()
  return s
}

// Rotated hosts switch one at a time. A host starts a handshake with every peer as it switches: to a rotated
// host still on its old key it is refused, and that host's own handshake, when it switches, succeeds. Two that
// switch at once can each take the other's handshake and answer it; taking it drops the one each had started,
// so both answers are refused: neither has a session until WireGuard tries again after REKEY_TIMEOUT (5 s).
// A CI run of the local -> host migration (two hosts rotated together) lost its pings for that. The cost is one
// `wg syncconf` round trip per rotated host, in turn, and only when several rotate.
function gate(keyed: HostSession[], peers: HostSession[], nudge: (s: HostSession) => void): HostSession[] {
  let turn: Promise<unknown> = Promise.resolve()
  for (const s of keyed) {
    if (!s.remote) continue
    const sync = s.remote.syncconf.bind(s.remote)
    s.remote.syncconf = async (n) => {
      // A peer that fails before its syncconf signals when its whole phase ends (releaseAll).
      await Promise.all(peers.map((p) => synced.get(p) ?? Promise.resolve()))
      const mine = turn.then(() => sync(n))
      turn = mine.catch(() => undefined)
      await mine
      nudge(s) // at once, on a channel of its own, while the executor goes on verifying
    }
  }
  return keyed
}

async function finishRotation(session: ApplySession, hosts: HostResult[]): Promise<RotationResult | undefined> {
  const {loaded} = session
  if (!loaded.pendingKeys.length && !loaded.pendingPsks.length && !hostKeysToCommit(loaded)) return undefined
  const base = {hosts: loaded.pendingKeys, psks: loaded.pendingPsks.length}
  const touched = new Set(session.sessions.map((s) => s.host.name))
  const notTouched = loaded.mesh.hosts.filter((h) => !touched.has(h.name)).map((h) => h.name)
  if (notTouched.length) return {...base, committed: false, reason: `not applied to ${notTouched.join(', ')} (--hosts): run a full apply to finish`}
  const bad = hosts.filter((h) => !OK.has(h.status)).map((h) => `${h.name} (${h.status})`)
  if (bad.length) return {...base, committed: false, reason: `not every host runs the new keys: ${bad.join(', ')}; re-run to finish`}
  // network.keys: host: the hosts hold the key files, the state dir only public keys (and local keys to delete).
  commitRotation(loaded.store, loaded.hostKeys ? [] : loaded.pendingKeys, loaded.pendingPsks)
  const failed = loaded.hostKeys ? await commitSessionHostKeys(loaded, session.sessions) : null
  return failed ? {...base, committed: false, reason: failed} : {...base, committed: true}
}
