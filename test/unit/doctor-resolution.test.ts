// Doctor resolution checks: every answer of every resolver (getent ahostsv4/v6, Erlang) for every mesh name,
// the line behind a wrong one, the block's state, and hints that never open EPMD or distribution publicly.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {diagnose} from '../../src/core/doctor.js'
import type {DoctorHostFacts, DoctorMeshFacts} from '../../src/core/doctor-facts.js'
import {findShadows, meshNames} from '../../src/core/hosts-shadow.js'
import type {Mesh} from '../../src/core/model.js'
import {NameAnswers, blockState, parseAhosts, parseErlAnswers} from '../../src/core/resolution-facts.js'
import {hostsMarkers, renderHostsBlock} from '../../src/core/render.js'

const NOW = 1_700_000_000
const key = (n: number) => Buffer.alloc(32, n).toString('base64')
const NAMES = ['Host-A', 'Host-B', 'Host-C']
const MESH: Mesh = {
  interface: 'wg0',
  ipv4: '10.77.0.0/24',
  ipv6: 'fd77:77::/64',
  beam: {nodeBasename: 'app', naming: 'sname', epmd: true, distPortMin: 9100, distPortMax: 9105, firewall: false},
  hosts: NAMES.map((name, i) => ({
    name, endpoint: `198.18.0.${11 + i}`, endpointIp: `198.18.0.${11 + i}`, listenPort: 51820,
    ipv4: `10.77.0.${i + 1}`, ipv6: `fd77:77::${i + 1}`, publicKey: key(i + 1), ssh: {user: 'root', host: `198.18.0.${11 + i}`, port: 22},
  })),
}
const BLOCK = renderHostsBlock(MESH)

/** Right answers from every resolver, for every mesh name, on every host. */
function rightAnswers(): NameAnswers[] {
  return MESH.hosts.flatMap((h) => [
    {name: h.name, resolver: 'getent ahostsv4', family: 'inet' as const, addresses: [h.ipv4!]},
    {name: h.name, resolver: 'getent ahostsv6', family: 'inet6' as const, addresses: [h.ipv6!]},
    {name: h.name, resolver: 'erl inet:getaddr(inet)', family: 'inet' as const, addresses: [h.ipv4!]},
    {name: `${h.name}-wg`, resolver: 'getent ahostsv4', family: 'inet' as const, addresses: [h.endpointIp!]},
  ])
}

function facts(hostsFile = `127.0.0.1 localhost\n${BLOCK}`): DoctorMeshFacts {
  const hosts: DoctorHostFacts[] = MESH.hosts.map((h) => {
    const others = MESH.hosts.filter((o) => o !== h)
    return {
      host: h.name, connected: true, hostname: {hostname: h.name, short: h.name},
      wg: {interface: {publicKey: h.publicKey, listenPort: 51820, fwmark: null}, peers: others.map((o) => ({
        publicKey: o.publicKey, presharedKey: false, endpoint: `${o.endpoint}:51820`, allowedIps: [`${o.ipv4}/32`, `${o.ipv6}/128`],
        latestHandshake: NOW - 30, rxBytes: 1, txBytes: 1, keepalive: 25,
      }))},
      answers: rightAnswers(),
      shadows: findShadows(hostsFile, meshNames(MESH), 'wg0', {otherBlocks: true}),
      hostsBlock: blockState(hostsFile, BLOCK, hostsMarkers('wg0').begin, hostsMarkers('wg0').end),
      localEpmd: {state: 'open', nodes: [{name: 'app', port: 9100}]},
      selfEpmd: {state: 'open', nodes: [{name: 'app', port: 9100}]},
      links: Object.fromEntries(others.map((o) => [o.name, {ping: {sent: 3, received: 3}, epmd: {state: 'open' as const, nodes: [{name: 'app', port: 9100}]},
        dist: {port: 9100, state: 'open' as const, announcedName: `app@${o.name}`, nameMatches: true}}])),
      exposure: {epmd: 'filtered', dist: [{port: 9100, state: 'filtered'}]},
    }
  })
  return {nowEpochS: NOW, hosts}
}

const on = (f: DoctorMeshFacts, n: string) => f.hosts.find((h) => h.host === n)!
const brief = (r: ReturnType<typeof diagnose>) => r.findings.map((x) => `${x.severity} ${x.host}${x.peer ? `->${x.peer}` : ''} ${x.check}`)

describe('resolution facts parsers', () => {
  it('getent ahosts: every address once, v4-mapped read as IPv4', () => {
    const out = '10.77.0.2       STREAM Host-B\n10.77.0.2       DGRAM  \n10.77.0.2       RAW    \n172.17.0.5      STREAM \n'
    assert.deepEqual(parseAhosts('Host-B', 'inet', out).addresses, ['10.77.0.2', '172.17.0.5'])
    assert.deepEqual(parseAhosts('Host-B', 'inet6', '::ffff:10.77.0.2 STREAM Host-B\n').addresses, ['10.77.0.2'])
    assert.deepEqual(parseAhosts('Host-B', 'inet', '').addresses, [])
  })
  it('erl lines: getaddr and getaddrs, errors kept, noise ignored', () => {
    const r = parseErlAnswers('Host-B inet 172.17.0.5 172.17.0.5,10.77.0.2\nHost-B inet6 error:nxdomain error:nxdomain\nsome warning\n')
    assert.deepEqual(r.map((a) => [a.resolver, a.addresses, a.error]), [
      ['erl inet:getaddr(inet)', ['172.17.0.5'], undefined], ['erl inet:getaddrs(inet)', ['172.17.0.5', '10.77.0.2'], undefined],
      ['erl inet:getaddr(inet6)', [], 'nxdomain'], ['erl inet:getaddrs(inet6)', [], 'nxdomain'],
    ])
  })
  it('block state: ok (also without a final newline), missing, altered, broken', () => {
    const {begin, end} = hostsMarkers('wg0')
    assert.equal(blockState(`x\n${BLOCK}`, BLOCK, begin, end), 'ok')
    assert.equal(blockState(`x\n${BLOCK.slice(0, -1)}`, BLOCK, begin, end), 'ok')
    assert.equal(blockState('x\n', BLOCK, begin, end), 'missing')
    assert.equal(blockState(BLOCK.replace('10.77.0.2', '10.77.0.9'), BLOCK, begin, end), 'altered')
    assert.equal(blockState(`${begin}\n`, BLOCK, begin, end), 'broken')
  })
})

describe('doctor resolution checks', () => {
  it('healthy: all answers are mesh addresses -> no findings', () => {
    const r = diagnose(MESH, facts())
    assert.deepEqual(brief(r), [])
  })

  it('a peer name shadowed: FAIL naming host, name, the wrong answers with their resolvers, and the line', () => {
    const file = `127.0.0.1 localhost\n172.17.0.5\thost-b\n${BLOCK}`
    const f = facts(file)
    on(f, 'Host-A').answers!.push(
      {name: 'Host-B', resolver: 'erl inet:getaddr(inet)', family: 'inet', addresses: ['172.17.0.5']},
      {name: 'Host-B', resolver: 'getent ahostsv4', family: 'inet', addresses: ['10.77.0.2', '172.17.0.5']},
    )
    // On B and C the same line exists but no resolver handed it out (yet): still a FAIL, as a line.
    const r = diagnose(MESH, f)
    assert.deepEqual(brief(r), ['fail Host-A->Host-B resolve', 'fail Host-B hosts-shadow', 'fail Host-C hosts-shadow'])
    const x = r.findings[0]
    assert.match(x.message, /^on Host-A, Host-B resolves to 172\.17\.0\.5 \(erl inet:getaddr\(inet\), getent ahostsv4\), not its mesh address 10\.77\.0\.2 \/ fd77:77::2/)
    assert.match(x.message, /line 2 of \/etc\/hosts: "172\.17\.0\.5\\thost-b"/)
    assert.match(x.hint, /mesh apply --hosts Host-A/)
    assert.equal(r.healthy, false)
  })

  it('own name wrong: self-resolve (release commands), the Debian 127.0.1.1 line named', () => {
    const file = `127.0.1.1 host-a.example.com Host-A\n${BLOCK}`
    const f = facts(file)
    on(f, 'Host-A').answers!.push({name: 'Host-A', resolver: 'getent ahostsv4', family: 'inet', addresses: ['127.0.1.1']})
    on(f, 'Host-B').shadows = []
    on(f, 'Host-C').shadows = []
    const r = diagnose(MESH, f)
    assert.deepEqual(brief(r), ['fail Host-A self-resolve'])
    assert.match(r.findings[0].message, /node cannot reach itself by name/)
    assert.match(r.findings[0].message, /"127\.0\.1\.1 host-a\.example\.com Host-A"/)
  })

  it('a name that does not resolve at all where the mesh gives an address is a FAIL too', () => {
    const f = facts()
    const a = on(f, 'Host-A').answers!
    a.splice(a.findIndex((x) => x.name === 'Host-C' && x.family === 'inet6'), 1, {name: 'Host-C', resolver: 'getent ahostsv6', family: 'inet6', addresses: []})
    assert.deepEqual(brief(diagnose(MESH, f)), ['fail Host-A->Host-C resolve'])
  })

  it('missing or altered block: the hint names cloud-init manage_etc_hosts and container runtimes', () => {
    const f = facts('127.0.0.1 localhost\n')
    const r = diagnose(MESH, f)
    assert.deepEqual(brief(r), ['fail Host-A hosts-block', 'fail Host-B hosts-block', 'fail Host-C hosts-block'])
    assert.match(r.findings[0].hint, /manage_etc_hosts/)
    assert.match(r.findings[0].hint, /container/)
  })

  it('own epmd unreachable at the mesh address: self-reach', () => {
    const f = facts()
    on(f, 'Host-B').selfEpmd = {state: 'closed'}
    const r = diagnose(MESH, f)
    assert.deepEqual(brief(r), ['fail Host-B self-reach'])
    assert.match(r.findings[0].hint, /ERL_EPMD_ADDRESS=10\.77\.0\.2,fd77:77::2/)
  })

  it('no hint starts EPMD or a node on every interface; the epmd hints carry the mesh addresses', () => {
    const f = facts('127.0.0.1 localhost\n')
    on(f, 'Host-A').localEpmd = {state: 'closed'}
    on(f, 'Host-B').localEpmd = {state: 'open', nodes: []}
    on(f, 'Host-C').exposure = {epmd: 'open', dist: [{port: 9100, state: 'open'}]}
    const r = diagnose(MESH, f)
    assert.ok(r.findings.length >= 5)
    for (const x of r.findings) {
      assert.doesNotMatch(x.hint, /epmd -daemon(?! -address)/, `${x.check}: ${x.hint}`)
      if (/-s?name app@/.test(x.hint)) assert.match(x.hint, /-s?name app@\S+ -args_file \/etc\/beam-mesh\/wg0\/vm\.args/, `${x.check}: a bare -sname start listens everywhere: ${x.hint}`)
    }
    const epmd = r.findings.find((x) => x.check === 'epmd-local')!
    assert.match(epmd.hint, /epmd -daemon -address 10\.77\.0\.1,fd77:77::1/)
    assert.match(r.findings.find((x) => x.check === 'node-registered')!.hint, /env\.sh/)
    assert.match(r.findings.find((x) => x.check === 'exposure-epmd')!.hint, /ERL_EPMD_ADDRESS=10\.77\.0\.3,fd77:77::3/)
  })
})
