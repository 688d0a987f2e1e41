import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {AddressRequest, allocate, checkAllocation, poolCapacity, poolFor} from '../../src/core/addressing.js'

const req = (names: string[], extra: Record<string, Partial<AddressRequest>> = {}): AddressRequest[] =>
  names.map((name) => ({name, ...extra[name]}))

/** Deterministic PRNG (mulberry32) so the property test is repeatable. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('allocate', () => {
  it('gives the lowest free addresses in order, skipping network and broadcast', () => {
    const {assigned, moved} = allocate('10.1.2.0/24', 'ipv4', req(['a', 'b', 'c']))
    assert.deepEqual([...assigned], [['a', '10.1.2.1'], ['b', '10.1.2.2'], ['c', '10.1.2.3']])
    assert.deepEqual(moved, [])
    const full = allocate('10.1.2.0/30', 'ipv4', req(['a', 'b']))
    assert.deepEqual([...full.assigned.values()], ['10.1.2.1', '10.1.2.2'])
  })
  it('honours pinned addresses and allocates around them', () => {
    const {assigned} = allocate('10.1.2.0/24', 'ipv4', req(['a', 'b', 'c'], {a: {pinned: '10.1.2.2'}, c: {pinned: '10.1.2.1'}}))
    assert.equal(assigned.get('a'), '10.1.2.2')
    assert.equal(assigned.get('c'), '10.1.2.1')
    assert.equal(assigned.get('b'), '10.1.2.3')
  })
  it('a pin that takes another host\'s previous address moves that host, and says so', () => {
    const {assigned, moved} = allocate('10.1.2.0/24', 'ipv4', req(['a', 'b'], {a: {previous: '10.1.2.1'}, b: {pinned: '10.1.2.1', previous: '10.1.2.2'}}))
    assert.equal(assigned.get('b'), '10.1.2.1')
    assert.equal(assigned.get('a'), '10.1.2.2')
    assert.deepEqual(moved, [{name: 'a', from: '10.1.2.1', to: '10.1.2.2', why: 'a pinned address took it'}])
  })
  it('moves a host whose previous address is outside a changed CIDR', () => {
    const {assigned, moved} = allocate('10.9.0.0/24', 'ipv4', req(['a'], {a: {previous: '10.1.2.7'}}))
    assert.equal(assigned.get('a'), '10.9.0.1')
    assert.match(moved[0].why, /outside 10\.9\.0\.0\/24/)
  })
  it('keeps every remaining host\'s address across random adds and removes', () => {
    const rand = rng(42)
    let state = new Map<string, string>()
    let archived: string[] = []
    const names: string[] = []
    let serial = 0
    for (let step = 0; step < 300; step++) {
      if (names.length && rand() < 0.4) {
        const gone = names.splice(Math.floor(rand() * names.length), 1)[0]
        archived.push(state.get(gone)!)
      } else names.splice(Math.floor(rand() * (names.length + 1)), 0, `h${serial++}`)
      const {assigned, moved} = allocate('10.0.0.0/22', 'ipv4', req(names, Object.fromEntries(names.map((n) => [n, {previous: state.get(n)}]))), archived)
      assert.deepEqual(moved, [])
      for (const n of names) if (state.has(n)) assert.equal(assigned.get(n), state.get(n), `step ${step}: ${n} moved`)
      assert.equal(new Set(assigned.values()).size, names.length, 'addresses are unique')
      state = assigned
      archived = archived.slice(-50)
    }
  })
  it('avoids archived addresses while others are free, and reuses them only when it must', () => {
    const a = allocate('10.0.0.0/29', 'ipv4', req(['x', 'y']), ['10.0.0.1', '10.0.0.2'])
    assert.deepEqual([...a.assigned.values()], ['10.0.0.3', '10.0.0.4'])
    // /29 has 6 usable addresses: 4 fresh ones first, then the archived ones.
    const b = allocate('10.0.0.0/29', 'ipv4', req(['a', 'b', 'c', 'd', 'e', 'f']), ['10.0.0.1', '10.0.0.2'])
    assert.deepEqual([...b.assigned.values()], ['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.1', '10.0.0.2'])
  })
  it('works for IPv6, canonicalising pins, even in a /64 with many hosts', () => {
    const names = Array.from({length: 1000}, (_, i) => `h${i}`)
    const {assigned} = allocate('fd77:77::/64', 'ipv6', req(names, {h5: {pinned: 'FD77:0077:0000::00ff'}}), ['fd77:77::1'])
    assert.equal(assigned.get('h5'), 'fd77:77::ff')
    assert.equal(assigned.get('h0'), 'fd77:77::2')
    assert.equal(assigned.get('h999'), 'fd77:77::3e9') // 999 unpinned hosts from ::2, skipping the pinned ::ff
    assert.equal(new Set(assigned.values()).size, 1000)
  })
  it('IPv6 uses the whole prefix except the subnet-router anycast address', () => {
    assert.equal(poolCapacity(poolFor('fd00::/126', 'ipv6')), 3n)
    assert.deepEqual([...allocate('fd00::/126', 'ipv6', req(['a', 'b', 'c'])).assigned.values()], ['fd00::1', 'fd00::2', 'fd00::3'])
  })
})

describe('checkAllocation', () => {
  it('is empty for a valid request', () => {
    assert.deepEqual(checkAllocation('10.0.0.0/24', 'ipv4', req(['a', 'b'], {a: {pinned: '10.0.0.9'}}), 'address'), [])
  })
  it('reports a CIDR too small for the hosts, suggesting a prefix that fits', () => {
    const names = Array.from({length: 7}, (_, i) => `h${i}`)
    const [issue] = checkAllocation('10.0.0.0/29', 'ipv4', req(names), 'address')
    assert.equal(issue.path, 'network.ipv4')
    assert.match(issue.message, /room for 6 hosts but the inventory lists 7/)
    assert.match(issue.fix, /\/28/)
    assert.equal(checkAllocation('10.0.0.0/28', 'ipv4', req(names), 'address').length, 0)
    assert.match(checkAllocation('10.0.0.0/32', 'ipv4', req(['a']), 'address')[0].message, /room for 0 hosts/)
    assert.equal(checkAllocation('fd00::/127', 'ipv6', req(['a', 'b']), 'address6')[0].path, 'network.ipv6')
  })
  it('reports pins outside the CIDR, on the network or broadcast address, and duplicate pins', () => {
    for (const pin of ['10.0.1.5', '10.0.0.0', '10.0.0.255', 'fd00::1']) {
      const [issue] = checkAllocation('10.0.0.0/24', 'ipv4', req(['a', 'b'], {b: {pinned: pin}}), 'address')
      assert.equal(issue.path, 'hosts[1].address (host b)')
      assert.match(issue.message, new RegExp(`${pin} is not a usable address in 10\\.0\\.0\\.0/24`))
      assert.match(issue.fix, /inside 10\.0\.0\.0\/24/)
    }
    const [dup] = checkAllocation('fd00::/64', 'ipv6', req(['a', 'b'], {a: {pinned: 'fd00::7'}, b: {pinned: 'fd00:0::7'}}), 'address6')
    assert.equal(dup.path, 'hosts[1].address6 (host b)')
    assert.match(dup.message, /also pinned by host a/)
  })
})
