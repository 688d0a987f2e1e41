// The address policy's accepting side (the refusing side is the bad-inventory corpus, through the CLI):
// ordinary private, shared and unique-local ranges pass untouched, a public range passes only with the
// explicit inventory setting, and no setting lets a default route or loopback through.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {endpointProblem, networkProblem} from '../../src/core/address-policy.js'
import {InventoryError} from '../../src/core/errors.js'
import {parseInventory} from '../../src/core/inventory.js'
import {baseInventory, toYaml} from '../support/helpers.js'

describe('address policy', () => {
  it('accepts private, shared (100.64/10) and unique-local networks, from a /8 down', () => {
    for (const c of ['10.0.0.0/8', '10.77.0.0/24', '172.16.0.0/12', '192.168.5.0/24', '100.64.0.0/10', '100.127.3.0/24']) assert.equal(networkProblem(c, 'ipv4', false), null, c)
    for (const c of ['fd77:77::/64', 'fc00::/32', 'fd00:1:2::/48']) assert.equal(networkProblem(c, 'ipv6', false), null, c)
  })

  it('a public range needs network.allowPublicRange: true, and that setting unlocks nothing else', () => {
    assert.match(networkProblem('203.0.113.0/24', 'ipv4', false)!.fix, /allowPublicRange: true/)
    assert.equal(networkProblem('203.0.113.0/24', 'ipv4', true), null)
    assert.equal(networkProblem('2001:db8:1::/64', 'ipv6', true), null)
    for (const [c, f] of [['0.0.0.0/0', 'ipv4'], ['127.0.0.0/8', 'ipv4'], ['224.0.0.0/24', 'ipv4'], ['::/0', 'ipv6'], ['ff02::/16', 'ipv6'], ['2000::/3', 'ipv6']] as const)
      assert.ok(networkProblem(c, f, true), `${c} must stay refused with allowPublicRange`)
    // 169.0.0.0/8 is public but holds link-local 169.254/16: refused even when public ranges are allowed.
    assert.match(networkProblem('169.0.0.0/8', 'ipv4', true)!.message, /link-local/)
  })

  it('accepts unicast endpoints outside the mesh and leaves DNS names to the resolver', () => {
    for (const ep of ['198.18.0.10', '203.0.113.7', '10.0.0.5', '2001:db8::1', 'fd00::9', 'host-a.example.net']) assert.equal(endpointProblem(ep, ['10.77.0.0/24', 'fd77:77::/64']), null, ep)
  })

  it('the inventory parser applies it: allowPublicRange parses, a public range without it is one issue at network.ipv4', () => {
    const inv = baseInventory(2)
    inv.network.ipv4 = '198.51.100.0/24'
    assert.throws(() => parseInventory(toYaml(inv), 'inv.yaml'), (e: unknown) => e instanceof InventoryError && e.issues.length === 1 && e.issues[0].path === 'network.ipv4')
    inv.network.allowPublicRange = true
    assert.equal(parseInventory(toYaml(inv), 'inv.yaml').network.allowPublicRange, true)
  })
})
