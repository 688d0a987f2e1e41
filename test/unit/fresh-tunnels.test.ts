import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {FreshHost, mendsByHost, pairsWithoutSession, parseLatestHandshakes} from '../../src/core/fresh-tunnels.js'
import {generateKeyPair} from '../../src/core/wgkeys.js'

const host = (name: string): FreshHost => ({name, publicKey: generateKeyPair().publicKey})
const [A, B, C] = ['Host-A', 'Host-B', 'Host-C'].map(host)
/** Every host with a handshake (at t) with every other, except the given [seen by, peer] sides. */
function tables(hosts: FreshHost[], without: [FreshHost, FreshHost][] = [], t = 1_700_000_000) {
  return new Map(hosts.map((h) => [h.name, new Map(hosts.filter((p) => p !== h).map((p) => [p.publicKey, without.some(([x, y]) => x === h && y === p) ? 0 : t]))]))
}

describe('fresh tunnels: which pairs lack a session, who starts them again', () => {
  it('no pair when every side has a handshake', () => {
    assert.deepEqual(pairsWithoutSession([A, B, C], tables([A, B, C])), [])
  })

  it('a pair is without a session when either side has no handshake; the first name mends, once per pair', () => {
    // Crossed: neither side has one.
    assert.deepEqual(pairsWithoutSession([C, B, A], tables([A, B, C], [[B, C], [C, B]])), [{mender: B, peer: C}])
    // The answering side waits for the initiator's first data: one side only is still a pair without a session.
    assert.deepEqual(pairsWithoutSession([A, B, C], tables([A, B, C], [[C, A]])), [{mender: A, peer: C}])
    const pairs = pairsWithoutSession([A, B, C], tables([A, B, C], [[A, B], [B, A], [A, C]]))
    assert.deepEqual(pairs, [{mender: A, peer: B}, {mender: A, peer: C}])
    assert.deepEqual([...mendsByHost(pairs)], [['Host-A', [B, C]]])
  })

  it('a peer missing from a table counts as no handshake; a host whose table is unknown is left out', () => {
    const seen = tables([A, B, C])
    seen.set('Host-B', new Map([[A.publicKey, 5]]))
    assert.deepEqual(pairsWithoutSession([A, B, C], seen), [{mender: B, peer: C}])
    const unknown = new Map<string, ReadonlyMap<string, number> | undefined>([...tables([A, B, C], [[A, B], [B, A]])])
    unknown.set('Host-B', undefined)
    assert.deepEqual(pairsWithoutSession([A, B, C], unknown), [])
  })

  it('parses `wg show IFACE latest-handshakes`, and refuses what is not that', () => {
    const out = `${A.publicKey}\t1700000000\n${B.publicKey}\t0\n`
    assert.deepEqual([...parseLatestHandshakes(out)!], [[A.publicKey, 1700000000], [B.publicKey, 0]])
    assert.deepEqual([...parseLatestHandshakes('')!], [])
    assert.equal(parseLatestHandshakes(`${A.publicKey} 1700000000\n`), null, 'spaces, not a tab')
    assert.equal(parseLatestHandshakes(`${A.publicKey}\t-1\n`), null)
    assert.equal(parseLatestHandshakes('Unable to access interface: No such device\n'), null)
  })
})
