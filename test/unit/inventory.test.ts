import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {InventoryError, UserError} from '../../src/core/errors.js'
import {parseInventory} from '../../src/core/inventory.js'
import {RawInventory, baseInventory, toYaml} from '../support/helpers.js'

function issuesOf(text: string) {
  try {
    parseInventory(text, 'inv.yaml')
  } catch (e) {
    assert.ok(e instanceof InventoryError, `expected InventoryError, got ${String(e)}`)
    assert.ok(e instanceof UserError)
    assert.equal(e.exitCode, 2)
    for (const i of e.issues) assert.ok(i.fix.length > 10, `issue at ${i.path} has no real fix: ${i.fix}`)
    assert.match(e.message, /^inv\.yaml: \d+ problems? in the inventory/)
    return e.issues
  }
  assert.fail('expected an InventoryError')
}

/** Asserts one issue whose path starts with `path` and whose message matches; returns it. */
function expectIssue(inv: RawInventory | string, path: string, message: RegExp, fix?: RegExp) {
  const issues = issuesOf(typeof inv === 'string' ? inv : toYaml(inv))
  const hit = issues.find((i) => i.path.startsWith(path) && message.test(i.message))
  assert.ok(hit, `no issue at ${path} matching ${message}; got ${JSON.stringify(issues, null, 1)}`)
  if (fix) assert.match(hit.fix, fix)
  return hit
}

const mutate = (f: (inv: RawInventory) => void, hosts = 3) => {
  const inv = baseInventory(hosts)
  f(inv)
  return inv
}

describe('parseInventory accepts', () => {
  it('the base inventory, with defaults filled in', () => {
    const inv = parseInventory(toYaml(baseInventory()), 'inv.yaml')
    assert.equal(inv.hosts.length, 3)
    assert.equal(inv.network.listenPort, 51820)
    assert.equal(inv.network.presharedKeys, false)
    assert.deepEqual(inv.beam, {nodeBasename: 'app', naming: 'sname', epmd: true, distPortMin: 9100, distPortMax: 9105, firewall: false})
    assert.equal(inv.ssh.connectTimeoutSeconds, 15)
  })
  it('IPv6 endpoints, DNS names (including an FQDN starting with the hostname) and ssh targets', () => {
    const inv = mutate((i) => {
      i.hosts[0].endpoint = '2001:db8::10'
      i.hosts[0].ssh = 'deploy@[2001:db8::10]:2222'
      i.hosts[1].endpoint = 'host-b.example.com'
      i.hosts[2].ssh = 'root@198.18.0.12'
    })
    assert.equal(parseInventory(toYaml(inv), 'x').hosts.length, 3)
  })
})

describe('parseInventory rejects, naming the field and a fix', () => {
  it('duplicate names, also when they differ only in case', () => {
    expectIssue(mutate((i) => (i.hosts[2].name = 'Host-A')), 'hosts[2].name', /duplicates hosts\[0\]\.name/, /unique hostname/)
    expectIssue(mutate((i) => (i.hosts[1].name = 'host-a')), 'hosts[1].name (host host-a)', /case-insensitively/)
  })
  it('duplicate endpoints (same address and port), also spelled differently', () => {
    expectIssue(mutate((i) => (i.hosts[1].endpoint = '198.18.0.10')), 'hosts[1].endpoint (host Host-B)', /duplicates the endpoint and port of hosts\[0\]/, /own public address/)
    expectIssue(
      mutate((i) => {
        i.hosts[0].endpoint = '2001:db8::1'
        i.hosts[1].endpoint = '2001:DB8:0::1'
      }),
      'hosts[1].endpoint',
      /duplicates/,
    )
    // Same address, different listenPort: allowed.
    const ok = mutate((i) => {
      i.hosts[1].endpoint = '198.18.0.10'
      i.hosts[1].listenPort = 51821
    })
    assert.equal(parseInventory(toYaml(ok), 'x').hosts.length, 3)
  })
  it('invalid hostnames', () => {
    for (const name of ['host.example', '-lead', 'trail-', 'a_b', 'x'.repeat(61), '']) {
      expectIssue(mutate((i) => (i.hosts[0].name = name)), 'hosts[0].name', /short hostname/, /hostname/)
    }
  })
  it('invalid endpoints, including mistyped IPv4 addresses that look like DNS names', () => {
    for (const ep of ['999.1.1.1', '10.0.0', '1.2.3.4.5', 'bad_name.example', 'a..b', '2001:db8:::1']) {
      expectIssue(mutate((i) => (i.hosts[1].endpoint = ep)), 'hosts[1].endpoint (host Host-B)', /IPv4\/IPv6 address or a DNS name/, /public IP/)
    }
  })
  it('an endpoint equal to the host\'s own name', () => {
    expectIssue(mutate((i) => (i.hosts[0].endpoint = 'host-a')), 'hosts[0].endpoint', /own hostname/)
  })
  it('shell metacharacters in any string field, top level to nested', () => {
    const cases: [(i: RawInventory) => void, string][] = [
      [(i) => (i.hosts[0].name = 'a;b'), 'hosts[0].name'],
      [(i) => (i.hosts[1].endpoint = '$(reboot)'), 'hosts[1].endpoint (host Host-B)'],
      [(i) => (i.hosts[2].ssh = 'root@h`id`'), 'hosts[2].ssh (host Host-C)'],
      [(i) => (i.network.interface = 'wg0|x'), 'network.interface'],
      [(i) => (i.ssh!.identityFile = '/root/.ssh/id rsa'), 'ssh.identityFile'],
      [(i) => (i.beam!.nodeBasename = 'app&'), 'beam.nodeBasename'],
      [(i) => (i.network.ipv4 = '10.0.0.0/24\nx'), 'network.ipv4'],
    ]
    for (const [f, path] of cases) expectIssue(mutate(f), path, /character that is not allowed/, /shell metacharacters/)
  })
  it('unknown keys, naming the key itself', () => {
    expectIssue(mutate((i) => (i.network.listenport = 1)), 'network.listenport', /unknown key "listenport"/, /spelling/)
    expectIssue(mutate((i) => (i.hosts[1].adress = '10.77.0.9')), 'hosts[1].adress (host Host-B)', /unknown key/)
    expectIssue(mutate((i) => ((i as unknown as Record<string, unknown>).extra = true)), 'extra', /unknown key "extra"/)
  })
  it('YAML syntax errors with line and column', () => {
    expectIssue('network:\n  ipv4: 10.0.0.0/24\n hosts: [\n', 'line ', /YAML syntax error/, /YAML syntax/)
    expectIssue('network: {ipv4: 10.0.0.0/24}\nnetwork: {}\nhosts: []\n', 'line 2', /YAML syntax error.*[Uu]nique/)
    expectIssue('- just\n- a list\n', '(top level)', /must be a mapping/)
    expectIssue('', '(top level)', /must be a mapping/)
  })
  it('wrong types', () => {
    expectIssue(mutate((i) => (i.network.listenPort = '51820x')), 'network.listenPort', /expected number/, /port number/)
    expectIssue(mutate((i) => (i.hosts[0].listenPort = 70000)), 'hosts[0].listenPort (host Host-A)', /65535/)
    expectIssue(mutate((i) => (i.network.presharedKeys = 'yes')), 'network.presharedKeys', /expected boolean/)
    expectIssue(mutate((i) => ((i as {hosts: unknown}).hosts = {a: 1})), 'hosts', /expected array/)
    expectIssue(mutate((i) => (i.hosts = [])), 'hosts', /at least 1|>=1|too small/i, /at least one host/)
    expectIssue(mutate((i) => (i.beam!.naming = 'long')), 'beam.naming', /sname|name/, /sname or name/)
    expectIssue(mutate((i) => delete (i as Partial<RawInventory>).network), 'network', /expected object/)
  })
  it('bad CIDRs and pinned addresses of the wrong family', () => {
    expectIssue(mutate((i) => (i.network.ipv4 = '10.0.0.0/33')), 'network.ipv4', /IPv4 CIDR/, /10\.77\.0\.0\/24/)
    expectIssue(mutate((i) => (i.network.ipv4 = 'fd00::/64')), 'network.ipv4', /IPv4 CIDR/)
    expectIssue(mutate((i) => (i.network.ipv6 = '10.0.0.0/8')), 'network.ipv6', /IPv6 CIDR/)
    expectIssue(mutate((i) => (i.hosts[0].address = 'fd77:77::5')), 'hosts[0].address (host Host-A)', /IPv4 address/, /pin an unused IPv4/)
    expectIssue(mutate((i) => (i.hosts[0].address6 = '10.77.0.5')), 'hosts[0].address6', /IPv6 address/)
  })
  it('cross-field rules', () => {
    expectIssue(mutate((i) => (i.network = {interface: 'wg0'})), 'network', /neither ipv4 nor ipv6/)
    expectIssue(mutate((i) => Object.assign(i.beam!, {distPortMin: 9200, distPortMax: 9100})), 'beam.distPortMin', /above beam.distPortMax/)
    expectIssue(mutate((i) => Object.assign(i.beam!, {distPortMin: 4000, distPortMax: 5000})), 'beam.distPortMin', /4369/)
    expectIssue(mutate((i) => (i.beam!.epmd = false)), 'beam.epmd', /one fixed port/)
    const v6only = mutate((i) => {
      delete i.network.ipv4
      i.beam!.naming = 'name'
    })
    expectIssue(v6only, 'beam.naming', /network\.ipv4 is not set/, /naming: sname/)
    expectIssue(mutate((i) => {
      delete i.network.ipv6
      i.hosts[0].address6 = 'fd77:77::9'
    }), 'hosts[0].address6', /network.ipv6 is not/)
    expectIssue(mutate((i) => (i.hosts[0].ssh = 'root@host:0')), 'hosts[0].ssh (host Host-A)', /not a valid SSH target/, /user@host/)
  })
  it('lists every problem at once', () => {
    const issues = issuesOf(toYaml(mutate((i) => {
      i.hosts[0].name = 'bad.name'
      i.hosts[1].endpoint = 'x..y'
      i.network.mtu = 100
    })))
    const paths = issues.map((i) => i.path)
    assert.ok(paths.some((p) => p.startsWith('hosts[0].name')))
    assert.ok(paths.some((p) => p.startsWith('hosts[1].endpoint')))
    assert.ok(paths.includes('network.mtu'))
  })
})
