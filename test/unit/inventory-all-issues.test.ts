// Every kind of inventory problem in one run: a character problem or a schema problem elsewhere must not
// hide the cross-field problems (duplicate names, endpoints) of the parts that are fine.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {InventoryError} from '../../src/core/errors.js'
import {parseInventory} from '../../src/core/inventory.js'
import {baseInventory, toYaml} from '../support/helpers.js'

function issuesOf(inv: unknown): {path: string; message: string}[] {
  try {
    parseInventory(toYaml(inv), 'fleet.yaml')
  } catch (err) {
    assert.ok(err instanceof InventoryError, String(err))
    return err.issues
  }
  assert.fail('the inventory was accepted')
}

const has = (issues: {path: string; message: string}[], path: string, message: RegExp) =>
  assert.ok(issues.some((i) => i.path === path && message.test(i.message)), `${path} ${message}: not in\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`)

describe('inventory: all problems at once', () => {
  it('a disallowed character, a schema error and case-insensitive duplicate names are reported together', () => {
    const inv = baseInventory(4)
    inv.hosts[0].endpoint = '198.18.0.10;reboot' // character check
    inv.network.listenPort = 70000 // schema
    inv.beam = {...inv.beam, distPortMin: 'low'} // schema, optional section
    inv.hosts[2].name = 'host-b' // duplicates Host-B, case-insensitively
    inv.hosts[3].endpoint = inv.hosts[1].endpoint // duplicate endpoint
    const issues = issuesOf(inv)
    has(issues, 'hosts[0].endpoint (host Host-A)', /character that is not allowed \(";"\)/)
    has(issues, 'network.listenPort', /.+/)
    has(issues, 'beam.distPortMin', /.+/)
    has(issues, 'hosts[2].name (host host-b)', /duplicates hosts\[1\]\.name/)
    has(issues, 'hosts[3].endpoint (host Host-D)', /duplicates the endpoint and port of hosts\[1\]/)
    assert.equal(issues.filter((i) => i.path.startsWith('hosts[0].endpoint')).length, 1, 'one problem per field, not one per check')
  })

  it('an invalid host is left out of the cross-field checks, and the others keep their indices', () => {
    const inv = baseInventory(4)
    inv.hosts[0].name = 'bad name' // character + schema: Host-A cannot take part
    inv.hosts[1].extra = 1 // unknown key: dropped for the cross-field checks
    inv.hosts[3].name = 'HOST-C'
    const issues = issuesOf(inv)
    has(issues, 'hosts[1].extra (host Host-B)', /unknown key "extra"/)
    has(issues, 'hosts[3].name (host HOST-C)', /duplicates hosts\[2\]\.name/)
  })

  it('a valid inventory still parses, and a cross-field problem alone is reported as before', () => {
    assert.equal(parseInventory(toYaml(baseInventory(3)), 'fleet.yaml').hosts.length, 3)
    const inv = baseInventory(3)
    inv.hosts[2].name = 'HOST-A'
    has(issuesOf(inv), 'hosts[2].name (host HOST-A)', /duplicates hosts\[0\]\.name/)
  })
})

describe('inventory: a left-out field does not cause guessed problems', () => {
  it('an invalid network.ipv4 is reported once, without "neither ipv4 nor ipv6" or pins "set but network.ipv4 is not"', () => {
    const inv = baseInventory(3)
    delete inv.network.ipv6
    inv.network.ipv4 = '10.77.0.0/33'
    inv.hosts[1].address = '10.77.0.9'
    inv.hosts[2].name = 'HOST-B'
    const issues = issuesOf(inv)
    has(issues, 'network.ipv4', /CIDR/)
    has(issues, 'hosts[2].name (host HOST-B)', /duplicates hosts\[1\]\.name/)
    assert.ok(!issues.some((i) => /neither ipv4 nor ipv6|network\.ipv4 is not/.test(i.message)), issues.map((i) => i.message).join('\n'))
  })
})
