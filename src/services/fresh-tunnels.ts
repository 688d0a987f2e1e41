// The end of an apply that brought interfaces up: every pair of those hosts is checked for a first session, and
// a pair whose first handshakes crossed is started again from one side (core/fresh-tunnels.ts says how that
// happens). Without this the pair has no tunnel for 5-15 s after the apply says it is done, and a `mesh doctor`
// or a BEAM node started right then finds it missing.
import {setTimeout as sleep} from 'node:timers/promises'

import {FreshHost, LatestHandshakes, mendsByHost, pairsWithoutSession} from '../core/fresh-tunnels.js'
import {peersOf} from '../core/model.js'
import type {ApplyProgress, ApplySession, HostResult, HostSession} from './apply-types.js'

export interface FreshTunnelTiming {
  /** A pair still without a session this long after the last host came up is started again. */
  mendAfterMs: number
  /** ... and again this long after each restart that brought none (at most maxMends times). */
  mendAgainMs: number
  maxMends: number
  /** Pairs still without a session after this long are reported (a warning, the apply itself succeeded). */
  settleWithinMs: number
  pollMs: number
}

// A handshake on a LAN takes a millisecond, across the world a few hundred; a crossed pair waits 5 s or more.
// A restart can itself meet the other side's own retry (WireGuard tries again 5 s after its first initiation,
// and the first host of a slow apply came up seconds before the last): that crossing is met by the next restart.
/** How a host's note on a restarted pair begins (the benches and tests find those notes by it). */
export const HANDSHAKE_RESTARTED_NOTE = 'WireGuard handshake started again'

export const FRESH_TUNNEL_TIMING: FreshTunnelTiming = {mendAfterMs: 500, mendAgainMs: 1000, maxMends: 3, settleWithinMs: 4500, pollMs: 100}

/** Returns warnings for pairs that have no session in the end; notes go to the results of the hosts that mended. */
export async function settleFreshTunnels(
  session: ApplySession,
  results: HostResult[],
  progress: ApplyProgress,
  timing: FreshTunnelTiming = FRESH_TUNNEL_TIMING,
): Promise<string[]> {
  const {mesh} = session.loaded
  const resultOf = new Map(results.map((r) => [r.name, r]))
  const fresh = session.sessions.filter(
    (s) => s.remote && s.plan && (s.plan.iface.kind === 'up' || s.plan.iface.kind === 'restart') && resultOf.get(s.host.name)?.status === 'changed' && s.host.publicKey,
  )
  if (fresh.length < 2) return []
  const hosts: FreshHost[] = fresh.map((s) => ({name: s.host.name, publicKey: s.host.publicKey}))
  const byName = new Map<string, HostSession>(fresh.map((s) => [s.host.name, s]))
  const warnings: string[] = []
  const t0 = performance.now()
  let mends = 0
  let nextMendAt = timing.mendAfterMs
  for (;;) {
    const seen = new Map<string, LatestHandshakes | undefined>(
      await Promise.all(fresh.map(async (s) => [s.host.name, (await s.remote!.latestHandshakes().catch(() => null)) ?? undefined] as const)),
    )
    const pairs = pairsWithoutSession(hosts, seen)
    if (!pairs.length) return warnings
    const elapsed = performance.now() - t0
    if (mends < timing.maxMends && elapsed >= nextMendAt && elapsed < timing.settleWithinMs) {
      mends++
      await Promise.all(
        [...mendsByHost(pairs)].map(async ([name, peers]) => {
          const s = byName.get(name)!
          const names = peers.map((p) => p.name).join(', ')
          progress.step(name, `no WireGuard session yet with ${names}: adding again to start the handshake`)
          try {
            await s.remote!.restartHandshakes(peers.map((p) => p.publicKey), peersOf(mesh, name).length)
            resultOf.get(name)?.notes.push(`${HANDSHAKE_RESTARTED_NOTE} with ${names}: no session ${(elapsed / 1000).toFixed(1)} s after coming up (first handshakes that crossed)`)
          } catch (e) {
            warnings.push(`${name}: could not start the WireGuard handshake with ${names} again: ${(e as Error).message}`)
          }
        }),
      )
      nextMendAt = performance.now() - t0 + timing.mendAgainMs
      continue
    }
    if (elapsed >= timing.settleWithinMs) {
      for (const p of pairs) {
        const [a, b] = [p.mender, p.peer].map((h) => byName.get(h.name)!.host)
        warnings.push(
          `${a.name} and ${b.name}: no WireGuard session ${(elapsed / 1000).toFixed(1)} s after both came up; check that UDP passes between ${a.endpoint}:${a.listenPort} and ${b.endpoint}:${b.listenPort} (\`mesh doctor\` checks every pair)`,
        )
      }
      return warnings
    }
    await sleep(timing.pollMs)
  }
}
