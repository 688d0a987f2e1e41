// Addresses as the inventory and the state accept them.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import ipaddr from 'ipaddr.js'

import {canonicalIp, isIp} from '../../src/core/names.js'

/** The check isIp had before its IPv4 fast path: ipaddr.js parses, and only the dotted-quad form counts as IPv4. */
const byIpaddr = (s: string) => ipaddr.isValid(s) && (ipaddr.IPv4.isValidFourPartDecimal(s) || s.includes(':'))

describe('isIp', () => {
  it('accepts IPv4 in dotted-quad form and IPv6, and nothing else', () => {
    for (const s of ['0.0.0.0', '10.0.0.1', '199.200.249.250', '255.255.255.255', '::', '::1', 'fd00::1', '::ffff:1.2.3.4']) assert.equal(isIp(s), true, s)
    for (const s of ['', '256.1.1.1', '01.2.3.4', '1.2.3.04', '1.2.3', '1.2.3.4.5', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', '0x1.2.3.4', '1e1.1.1.1', '1.2.3.-1', 'a.b.c.d', '2001:db8::/32', 'db.example.com']) {
      assert.equal(isIp(s), false, JSON.stringify(s))
    }
  })

  it('answers as ipaddr.js does, for the cases above and for every dotted form of numbers 0-299 tried', () => {
    const fixed = ['0.0.0.0', '256.1.1.1', '01.2.3.4', '1.2.3', '::1', 'fe80::1%eth0', '1.2.3.4\n', '09.1.1.1', '1.2.3.4 ']
    for (const s of fixed) assert.equal(isIp(s), byIpaddr(s), JSON.stringify(s))
    // Deterministic sweep: each part walks 0-299 (valid, too large, 2 and 3 digits) at a different stride.
    for (let i = 0; i < 300; i++) {
      const s = [i, (i * 7) % 300, (i * 13) % 300, 299 - i].join('.')
      assert.equal(isIp(s), byIpaddr(s), s)
    }
  })

  it('canonicalIp still gives the canonical form, and null for what isIp refuses', () => {
    assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1')
    assert.equal(canonicalIp('FD00:0::1'), 'fd00::1')
    assert.equal(canonicalIp('01.2.3.4'), null)
  })
})
