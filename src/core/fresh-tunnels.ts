// After an apply brought several interfaces up at once: which pairs of those hosts have no WireGuard session
// yet, and which side starts theirs again.
//
// A new interface starts a handshake with every peer at once. When two hosts come up within one round trip of
// each other, each receives the other's initiation after sending its own; answering it replaces the handshake
// it started, so the answer to that one is refused on arrival, on both sides. Neither has a session, and
// neither may start another before REKEY_TIMEOUT (5 s) has passed since its last: 5-15 s without a tunnel.
// One side that drops the peer and adds it again has a new peer with no rate limit: its initiation goes out at
// once, and the other side, not initiating then, answers it.

/** Peer public key -> unix time (s) of its latest handshake; 0: none yet. */
export type LatestHandshakes = ReadonlyMap<string, number>

export interface FreshHost {
  name: string
  publicKey: string
}

export interface FreshPair {
  /** The side that starts the handshake again: the first name in sort order, so one side only. */
  mender: FreshHost
  peer: FreshHost
}

/**
 * Pairs of hosts that both came up in this apply and lack a session: either side shows no handshake with the
 * other (the answering side shows one only once the initiator's first data arrives). A host whose handshakes
 * could not be read (undefined) is left out: nothing is known about its pairs.
 */
export function pairsWithoutSession(fresh: readonly FreshHost[], seen: ReadonlyMap<string, LatestHandshakes | undefined>): FreshPair[] {
  const sorted = [...fresh].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const out: FreshPair[] = []
  for (let i = 0; i < sorted.length; i++) {
    const a = seen.get(sorted[i].name)
    if (!a) continue
    for (let j = i + 1; j < sorted.length; j++) {
      const b = seen.get(sorted[j].name)
      if (!b) continue
      if (!((a.get(sorted[j].publicKey) ?? 0) > 0 && (b.get(sorted[i].publicKey) ?? 0) > 0)) out.push({mender: sorted[i], peer: sorted[j]})
    }
  }
  return out
}

/** The pairs grouped by the host that starts them again: host name -> its peers in those pairs. */
export function mendsByHost(pairs: readonly FreshPair[]): Map<string, FreshHost[]> {
  const out = new Map<string, FreshHost[]>()
  for (const p of pairs) out.set(p.mender.name, [...(out.get(p.mender.name) ?? []), p.peer])
  return out
}

/**
 * `wg show IFACE latest-handshakes`: one "<public key>\t<unix seconds>" line per peer. Null for output that
 * is not that (the caller knows nothing then, rather than something wrong).
 */
export function parseLatestHandshakes(stdout: string): Map<string, number> | null {
  const out = new Map<string, number>()
  for (const line of stdout.split('\n')) {
    if (!line) continue
    const m = /^([A-Za-z0-9+/]{43}=)\t(\d{1,12})$/.exec(line)
    if (!m) return null
    out.set(m[1], Number(m[2]))
  }
  return out
}
