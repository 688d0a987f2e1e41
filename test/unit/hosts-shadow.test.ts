// Shadowing /etc/hosts lines: found, neutralized name by name, restored byte for byte, through plan and teardown.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {desiredState} from '../../src/core/desired.js'
import {planHostsFile, teardownHostsFile} from '../../src/core/hosts-plan.js'
import {canonicalHostsAddress, findShadows, meshNames, neutralizeShadows, restoreShadows} from '../../src/core/hosts-shadow.js'
import {parseInventory} from '../../src/core/inventory.js'
import {HostAssignment, buildMesh} from '../../src/core/model.js'
import {ApplyHostFacts, planHost} from '../../src/core/plan.js'
import {planTeardown} from '../../src/core/teardown.js'
import {generatePrivateKey, publicKeyOf} from '../../src/core/wgkeys.js'
import {plainStyle, renderHostPlan} from '../../src/ui/plan.js'

const INV = `
network: {interface: wg0, ipv4: 10.77.0.0/24, ipv6: 'fd77:77::/64'}
hosts:
  - {name: Host-A, endpoint: 198.18.0.10}
  - {name: Host-B, endpoint: 198.18.0.11}
  - {name: Host-C, endpoint: db.example.com}
`
const keys = new Map(['Host-A', 'Host-B', 'Host-C'].map((n) => [n, generatePrivateKey()]))
const inv = parseInventory(INV, 'test.yaml')
const mesh = buildMesh(inv, new Map<string, HostAssignment>(inv.hosts.map((h, i) => [h.name, {ipv4: `10.77.0.${i + 1}`, ipv6: `fd77:77::${i + 1}`, publicKey: publicKeyOf(keys.get(h.name)!)}])))
const names = meshNames(mesh)
const desired = desiredState(mesh, {privateKeys: keys})
const BLOCK = desired[0].hostsBlock

/** A user's file with one of each kind of shadowing line, CRLF on one, no final newline. */
const USER = [
  '127.0.0.1\tlocalhost',
  '127.0.1.1\thost-a.example.com Host-A   # debian installer',
  '172.17.0.5\thost-a',
  '10.0.0.2 Host-B Host-B-wg other-name\r',
  '10.77.0.2 Host-B Host-C',
  'fd77:77:0:0::2 Host-B',
  '198.18.0.99 unrelated # Host-A in a comment is no mapping',
  'Host-A 10.0.0.1',
  '# 10.9.9.9 Host-A (already a comment)',
  '198.18.0.11 Host-B-wg',
  '10.1.1.1 Host-C-wg',
].join('\n')

describe('shadowing lines', () => {
  it('meshNames: host names map to their mesh addresses, -wg aliases to IP endpoints only', () => {
    assert.deepEqual([...names.get('host-a')!], ['10.77.0.1', 'fd77:77::1'])
    assert.deepEqual([...names.get('host-b-wg')!], ['198.18.0.11'])
    assert.equal(names.has('host-c-wg'), false, 'a DNS endpoint has no alias line to shadow')
  })

  it('finds exactly the lines that map a mesh name elsewhere, case-insensitively', () => {
    const found = findShadows(USER, names, 'wg0')
    assert.deepEqual(found.map((s) => [s.line, s.address, s.names]), [
      [2, '127.0.1.1', ['Host-A']],
      [3, '172.17.0.5', ['host-a']],
      [4, '10.0.0.2', ['Host-B', 'Host-B-wg']],
      [5, '10.77.0.2', ['Host-C']],
    ])
    assert.equal(found[2].text, '10.0.0.2 Host-B Host-B-wg other-name', 'the line without its CR')
  })

  it('comments out lines of mesh names only, strips mesh names from mixed lines, and keeps everything else', () => {
    const {content, lines} = neutralizeShadows(USER, names, 'wg0')
    const out = content.split('\n')
    assert.equal(out[1], '127.0.1.1\thost-a.example.com\t# beam-mesh wg0 was: 127.0.1.1\thost-a.example.com Host-A   # debian installer')
    assert.equal(out[2], '# beam-mesh wg0 was: 172.17.0.5\thost-a')
    assert.equal(out[3], '10.0.0.2 other-name\t# beam-mesh wg0 was: 10.0.0.2 Host-B Host-B-wg other-name\r')
    assert.equal(out[4], '10.77.0.2 Host-B\t# beam-mesh wg0 was: 10.77.0.2 Host-B Host-C', 'Host-B maps right and stays')
    assert.deepEqual(out.slice(5), USER.split('\n').slice(5), 'other lines byte for byte')
    assert.equal(lines.length, 4)
    assert.deepEqual(findShadows(content, names, 'wg0'), [], 'nothing shadows afterwards')
  })

  it('restores every neutralized line byte for byte, and is idempotent', () => {
    const {content} = neutralizeShadows(USER, names, 'wg0')
    const back = restoreShadows(content, 'wg0')
    assert.equal(back.content, USER)
    assert.equal(back.restored.length, 4)
    assert.deepEqual(neutralizeShadows(content, names, 'wg0').lines, [], 'a second pass finds nothing')
  })

  it('leaves another mesh\'s marks alone while its block exists, restores them once it is gone', () => {
    const other = '10.5.5.5 keep\t# beam-mesh wg1 was: 10.5.5.5 keep Host-X\n'
    const withBlock = `${other}# BEGIN beam-mesh wg1\n10.88.0.1\tHost-X\n# END beam-mesh wg1\n`
    assert.equal(restoreShadows(withBlock, 'wg0').content, withBlock)
    assert.equal(restoreShadows(other, 'wg0').content, '10.5.5.5 keep Host-X\n')
  })

  it('skips lines inside beam-mesh blocks (ours always; others unless the doctor asks)', () => {
    const text = `${BLOCK}# BEGIN beam-mesh wg1\n10.88.0.1\tHost-A\n# END beam-mesh wg1\n`
    assert.deepEqual(findShadows(text, names, 'wg0'), [])
    assert.deepEqual(findShadows(text, names, 'wg0', {otherBlocks: true}).map((s) => s.text), ['10.88.0.1\tHost-A'])
  })
})

describe('planning /etc/hosts with shadowing lines', () => {
  const facts = (hosts: string): ApplyHostFacts => ({files: new Map(), hosts, running: null, systemd: false, unitEnabled: false})

  it('apply: block in, shadows out, listed for --json and shown in the plan; a re-run is a no-op', () => {
    const plan = planHost(desired[0], facts(USER), 'wg0')
    const hosts = plan.files.find((f) => f.path === '/etc/hosts')!
    assert.ok(hosts.after.includes(BLOCK))
    assert.deepEqual(plan.hostsLines?.neutralized.map((l) => l.names.join(' ')), ['Host-A', 'host-a', 'Host-B Host-B-wg', 'Host-C'])
    assert.deepEqual(plan.hostsLines?.restored, [])
    const text = renderHostPlan(plan, plainStyle, true).join('\n')
    assert.match(text, /neutralize line 2: it maps Host-A to 127\.0\.1\.1/)
    assert.match(text, /^ {6}-127\.0\.1\.1\thost-a\.example\.com Host-A {3}# debian installer$/m, 'the diff shows the line going')
    const again = planHost(desired[0], facts(hosts.after), 'wg0')
    assert.equal(again.files.some((f) => f.path === '/etc/hosts'), false)
    assert.equal(again.hostsLines, undefined)
  })

  it('a line whose name left the mesh is restored by the next apply', () => {
    const applied = planHostsFile(USER, BLOCK, names, 'wg0', 'x').after
    const two = buildMesh(parseInventory(INV.replace(/ {2}- \{name: Host-C.*\n/, ''), 't.yaml'), new Map(mesh.hosts.map((h) => [h.name, h])))
    const next = planHostsFile(applied, desiredState(two, {privateKeys: keys})[0].hostsBlock, meshNames(two), 'wg0', 'x')
    assert.deepEqual(next.restored, ['10.77.0.2 Host-B Host-C'])
    assert.match(next.after, /^10\.77\.0\.2 Host-B Host-C$/m)
  })

  it('teardown removes the block and restores the original bytes exactly', () => {
    const applied = planHostsFile(USER, BLOCK, names, 'wg0', 'x').after
    assert.deepEqual(teardownHostsFile(applied, 'wg0', 'x').after, `${USER}\n`, 'the block had added only the final newline')
    const plan = planTeardown('Host-A', facts(applied), [], 'wg0')
    const step = plan.steps.find((s) => s.kind === 'hosts')
    assert.ok(step && step.kind === 'hosts')
    assert.equal(step.restored.length, 4)
  })
})

describe('canonicalHostsAddress', () => {
  it('answers the same for text it has seen before (memo), invalid text too, and past the memo size', () => {
    const cases: [string, string | null][] = [
      ['10.0.0.1', '10.0.0.1'],
      ['FD77:0077:0000::0001', 'fd77:77::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::ffff:10.0.0.2', '10.0.0.2'],
      ['not-an-address', null],
      ['', null],
    ]
    for (let round = 0; round < 2; round++) {
      for (const [text, want] of cases) assert.equal(canonicalHostsAddress(text), want, `round ${round}: ${text}`)
    }
    // More distinct addresses than the memo keeps: each still canonical, and the first ones again after.
    for (let i = 1; i <= 10_000; i++) assert.equal(canonicalHostsAddress(`fd00:0::${i.toString(16)}`), `fd00::${i.toString(16)}`)
    for (const [text, want] of cases) assert.equal(canonicalHostsAddress(text), want, `after the flood: ${text}`)
  })
})
