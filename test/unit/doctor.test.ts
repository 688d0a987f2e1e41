import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {diagnose} from '../../src/core/doctor.js'
import type {DoctorHostFacts, DoctorMeshFacts} from '../../src/core/doctor-facts.js'
import type {Mesh} from '../../src/core/model.js'

const NOW = 1_700_000_000
const key = (n: number) => Buffer.alloc(32, n).toString('base64')
const NAMES = ['Host-A', 'Host-B', 'Host-C']

function mesh(): Mesh {
  return {
    interface: 'wg0',
    ipv4: '10.77.0.0/24',
    beam: {nodeBasename: 'app', naming: 'sname', epmd: true, distPortMin: 9100, distPortMax: 9105, firewall: false},
    hosts: NAMES.map((name, i) => ({
      name, endpoint: `198.18.0.${11 + i}`, endpointIp: `198.18.0.${11 + i}`, listenPort: 51820,
      ipv4: `10.77.0.${i + 1}`, publicKey: key(i + 1), ssh: {user: 'root', host: `198.18.0.${11 + i}`, port: 22},
    })),
  }
}

/** What a healthy mesh looks like from every host. */
function healthy(): DoctorMeshFacts {
  const m = mesh()
  const hosts: DoctorHostFacts[] = m.hosts.map((h) => {
    const others = m.hosts.filter((o) => o !== h)
    return {
      host: h.name,
      connected: true,
      hostname: {hostname: h.name, short: h.name},
      wg: {
        interface: {publicKey: h.publicKey, listenPort: 51820, fwmark: null},
        peers: others.map((o) => ({
          publicKey: o.publicKey, presharedKey: false, endpoint: `${o.endpoint}:51820`, allowedIps: [`${o.ipv4}/32`],
          latestHandshake: NOW - 30, rxBytes: 1000, txBytes: 1000, keepalive: 25,
        })),
      },
      resolve: Object.fromEntries(others.flatMap((o) => [
        [o.name, {address: o.ipv4!, names: [o.name]}],
        [`${o.name}-wg`, {address: o.endpointIp!, names: [`${o.name}-wg`]}],
      ])),
      localEpmd: {state: 'open', nodes: [{name: 'app', port: 9100}]},
      links: Object.fromEntries(others.map((o) => [o.name, {
        ping: {sent: 3, received: 3},
        epmd: {state: 'open' as const, nodes: [{name: 'app', port: 9100}]},
        dist: {port: 9100, state: 'open' as const, announcedName: `app@${o.name}`, nameMatches: true},
      }])),
      exposure: {epmd: 'filtered', dist: [{port: 9100, state: 'filtered'}]},
    }
  })
  return {nowEpochS: NOW, hosts}
}

const hostOf = (f: DoctorMeshFacts, n: string) => f.hosts.find((h) => h.host === n)!
const cell = (r: ReturnType<typeof diagnose>, from: string, to: string) => r.matrix[NAMES.indexOf(from)][NAMES.indexOf(to)]

describe('doctor verdicts', () => {
  it('healthy mesh: every cell ok, no findings', () => {
    const r = diagnose(mesh(), healthy())
    assert.deepEqual(r.findings, [])
    assert.ok(r.healthy)
    assert.ok(r.matrix.flat().every((c) => c.verdict === 'ok' && c.label === 'ok'))
  })

  it('wrong hostname: host finding with hostnamectl, peers see the name mismatch', () => {
    const f = healthy()
    hostOf(f, 'Host-B').hostname = {hostname: 'host-b', short: 'host-b'}
    for (const h of ['Host-A', 'Host-C']) Object.assign(hostOf(f, h).links!['Host-B'].dist!, {announcedName: 'app@host-b', nameMatches: false})
    const r = diagnose(mesh(), f)
    const hn = r.findings.find((x) => x.check === 'hostname')!
    assert.equal(hn.host, 'Host-B')
    assert.match(hn.hint, /hostnamectl set-hostname Host-B/)
    assert.equal(r.findings.filter((x) => x.check === 'dist-name').length, 2)
    assert.equal(cell(r, 'Host-A', 'Host-B').label, 'name!')
    assert.equal(cell(r, 'Host-B', 'Host-B').verdict, 'fail')
    assert.equal(cell(r, 'Host-B', 'Host-A').verdict, 'ok')
  })

  it('wg down on one host: one finding, its row and column fail', () => {
    const f = healthy()
    hostOf(f, 'Host-C').wg = null
    for (const h of ['Host-A', 'Host-B']) hostOf(f, h).links!['Host-C'].ping = {sent: 3, received: 0}
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => [x.host, x.check]), [['Host-C', 'wg-interface']])
    assert.match(r.findings[0].hint, /mesh apply --hosts Host-C/)
    assert.match(r.findings[0].hint, /wg-quick up wg0/)
    assert.deepEqual(cell(r, 'Host-A', 'Host-C'), {verdict: 'fail', label: 'wg down'})
    assert.deepEqual(cell(r, 'Host-C', 'Host-A'), {verdict: 'fail', label: 'wg down'})
    assert.equal(cell(r, 'Host-A', 'Host-B').verdict, 'ok')
  })

  it('epmd not running: finding on the host only, cells towards it fail', () => {
    const f = healthy()
    hostOf(f, 'Host-B').localEpmd = {state: 'closed', detail: 'ECONNREFUSED'}
    for (const h of ['Host-A', 'Host-C']) {
      const l = hostOf(f, h).links!['Host-B']
      l.epmd = {state: 'closed'}
      delete l.dist
    }
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => [x.host, x.check]), [['Host-B', 'epmd-local']])
    assert.match(r.findings[0].hint, /epmd -daemon/)
    assert.deepEqual(cell(r, 'Host-A', 'Host-B'), {verdict: 'fail', label: 'no epmd'})
    assert.equal(cell(r, 'Host-B', 'Host-A').verdict, 'ok')
  })

  it('node not registered with epmd', () => {
    const f = healthy()
    hostOf(f, 'Host-A').localEpmd = {state: 'open', nodes: []}
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => x.check), ['node-registered'])
    assert.match(r.findings[0].hint, /-sname app@Host-A/)
  })

  it('4369 blocked on the tunnel while epmd runs', () => {
    const f = healthy()
    hostOf(f, 'Host-A').links!['Host-B'].epmd = {state: 'filtered'}
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => [x.host, x.peer, x.check]), [['Host-A', 'Host-B', 'epmd-reach']])
    assert.match(r.findings[0].hint, /4369\/tcp on wg0/)
    assert.match(r.findings[0].hint, /beam.firewall/)
    assert.equal(cell(r, 'Host-A', 'Host-B').label, '4369 blk')
    assert.equal(cell(r, 'Host-B', 'Host-A').verdict, 'ok')
  })

  it('dist port blocked', () => {
    const f = healthy()
    hostOf(f, 'Host-C').links!['Host-A'].dist = {port: 9100, state: 'filtered'}
    const r = diagnose(mesh(), f)
    assert.equal(r.findings[0].check, 'dist-reach')
    assert.match(r.findings[0].hint, /9100-9105\/tcp on wg0/)
  })

  it('public EPMD and dist exposure are critical and sorted first', () => {
    const f = healthy()
    hostOf(f, 'Host-C').hostname = {hostname: 'other', short: 'other'}
    hostOf(f, 'Host-B').exposure = {epmd: 'open', dist: [{port: 9100, state: 'open'}]}
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => [x.severity, x.check]), [['critical', 'exposure-epmd'], ['critical', 'exposure-dist'], ['fail', 'hostname']])
    assert.match(r.findings[0].hint, /beam.firewall: true/)
    assert.match(r.findings[0].hint, /ERL_EPMD_ADDRESS/)
    assert.deepEqual(cell(r, 'Host-B', 'Host-B'), {verdict: 'fail', label: 'EPMD pub +1'})
    assert.equal(r.summary.critical, 2)
    assert.equal(r.healthy, false)
  })

  it('stale handshake warns, never-handshake fails, both with the UDP hint', () => {
    const f = healthy()
    hostOf(f, 'Host-A').wg!.peers[0].latestHandshake = NOW - 600
    hostOf(f, 'Host-A').wg!.peers[1].latestHandshake = 0
    const r = diagnose(mesh(), f)
    const stale = r.findings.find((x) => x.peer === 'Host-B')!
    const never = r.findings.find((x) => x.peer === 'Host-C')!
    assert.equal(stale.severity, 'warn')
    assert.deepEqual(cell(r, 'Host-A', 'Host-B'), {verdict: 'warn', label: 'hs 10m'})
    assert.equal(never.severity, 'fail')
    assert.deepEqual(cell(r, 'Host-A', 'Host-C'), {verdict: 'fail', label: 'hs never'})
    for (const x of [stale, never]) assert.match(x.hint, /UDP 51820/)
    assert.ok(r.healthy === false)
  })

  it('handshake age is measured when the host\'s dump was read, not when a long run ends', () => {
    // A 64-host run takes minutes: a handshake 100 s old when Host-A's dump came back is fresh, however late the report.
    const f = {...healthy(), nowEpochS: NOW + 400}
    for (const p of hostOf(f, 'Host-A').wg!.peers) p.latestHandshake = NOW - 100
    hostOf(f, 'Host-A').wgReadAtEpochS = NOW
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.filter((x) => x.host === 'Host-A' && x.check === 'handshake'), [])
    // Without the read time (older facts), the run's end is the reference: the same handshake reads 500 s old.
    delete hostOf(f, 'Host-A').wgReadAtEpochS
    const late = diagnose(mesh(), f).findings.filter((x) => x.host === 'Host-A' && x.check === 'handshake')
    assert.deepEqual(late.map((x) => x.label), ['hs 8m', 'hs 8m'])
  })

  it('facts with first answers only (no full answer lists): a wrong first answer still fails', () => {
    const f = healthy()
    hostOf(f, 'Host-A').resolve!['Host-B'] = {address: '127.0.1.1', names: ['Host-B']}
    hostOf(f, 'Host-A').resolve!['Host-C-wg'] = null
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => [x.severity, x.host, x.check]), [['fail', 'Host-A', 'resolve'], ['fail', 'Host-A', 'resolve']])
  })

  it('wrong key, missing peer, partial ping loss', () => {
    const f = healthy()
    hostOf(f, 'Host-A').wg!.interface.publicKey = key(9)
    hostOf(f, 'Host-B').wg!.peers = hostOf(f, 'Host-B').wg!.peers.filter((p) => p.publicKey !== key(3))
    hostOf(f, 'Host-C').links!['Host-A'].ping = {sent: 4, received: 3}
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => x.check), ['wg-key', 'wg-peer', 'ping'])
    assert.equal(cell(r, 'Host-C', 'Host-A').label, 'loss 25%')
  })

  it('a pair answered only by the later ping (no session at first) is a warning; one that never answers fails', () => {
    const f = healthy()
    hostOf(f, 'Host-A').links!['Host-B'].ping = {sent: 3, received: 0, late: {sent: 1, received: 1}}
    hostOf(f, 'Host-B').links!['Host-A'].ping = {sent: 3, received: 0, late: {sent: 1, received: 1}}
    const late = diagnose(mesh(), f)
    assert.deepEqual(late.findings.map((x) => [x.severity, x.host, x.check]), [['warn', 'Host-A', 'ping'], ['warn', 'Host-B', 'ping']])
    assert.match(late.findings[0].message, /no reply from Host-B .* to the first 3 pings; one came within 16 s/)
    assert.match(late.findings[0].hint, /run mesh doctor again/)
    assert.equal(cell(late, 'Host-A', 'Host-B').label, 'ping late')
    assert.ok(late.healthy)
    hostOf(f, 'Host-A').links!['Host-B'].ping = {sent: 3, received: 0, late: {sent: 16, received: 0}}
    const dead = diagnose(mesh(), f)
    const fail = dead.findings.find((x) => x.severity === 'fail')!
    assert.deepEqual([fail.host, fail.check, fail.label], ['Host-A', 'ping', 'no ping'])
    assert.match(fail.message, /none within 16 s more either/)
    assert.ok(!dead.healthy)
  })

  it('a pair answered only by the later ping while a session was up is "ping slow", not "no session yet"', () => {
    const f = healthy()
    // Host-A's handshake with Host-B was at NOW - 30 (host clock); the pings left at NOW - 5.
    hostOf(f, 'Host-A').pingsStartedAtHostEpochS = NOW - 5
    hostOf(f, 'Host-A').links!['Host-B'].ping = {sent: 3, received: 0, late: {sent: 1, received: 1}}
    const slow = diagnose(mesh(), f)
    assert.deepEqual(slow.findings.map((x) => [x.severity, x.host, x.check, x.label]), [['warn', 'Host-A', 'ping', 'ping slow']])
    assert.match(slow.findings[0].message, /a session was up \(handshake 25 s before the pings\): the replies were slow or lost on a live tunnel/)
    assert.match(slow.findings[0].hint, /check the load on Host-A and Host-B/)
    assert.ok(slow.healthy)
    // A handshake in the same second as the pings, or after them, may be the one the pings started: no session before.
    for (const at of [NOW - 5, NOW - 2]) {
      hostOf(f, 'Host-A').wg!.peers.find((p) => p.publicKey === key(2))!.latestHandshake = at
      assert.equal(cell(diagnose(mesh(), f), 'Host-A', 'Host-B').label, 'ping late', `handshake at ${at}`)
    }
    // A handshake older than REJECT_AFTER_TIME made no session either.
    hostOf(f, 'Host-A').wg!.peers.find((p) => p.publicKey === key(2))!.latestHandshake = NOW - 5 - 180
    assert.ok(diagnose(mesh(), f).findings.some((x) => x.host === 'Host-A' && x.label === 'ping late'))
    // Without the host's clock (an older probe) nothing is claimed about the session.
    hostOf(f, 'Host-A').wg!.peers.find((p) => p.publicKey === key(2))!.latestHandshake = NOW - 30
    delete hostOf(f, 'Host-A').pingsStartedAtHostEpochS
    assert.equal(cell(diagnose(mesh(), f), 'Host-A', 'Host-B').label, 'ping late')
  })

  it('network.keys: host: a key that differs from state is fixed by a full apply (collects it), not by installing one', () => {
    const f = healthy()
    hostOf(f, 'Host-B').wg!.interface.publicKey = key(9)
    const r = diagnose({...mesh(), keys: 'host'}, f)
    const hit = r.findings.find((x) => x.check === 'wg-key')!
    assert.equal(hit.host, 'Host-B')
    assert.match(hit.hint, /^mesh apply \(collects the key the host holds/)
    assert.doesNotMatch(hit.hint, /--hosts|from the state/)
  })

  it('unreachable host: one ssh finding, its row and column unknown, no guesses', () => {
    const f = healthy()
    f.hosts[1] = {host: 'Host-B', connected: false, connectError: 'connect ETIMEDOUT'}
    const r = diagnose(mesh(), f)
    assert.deepEqual(r.findings.map((x) => x.check), ['ssh'])
    assert.match(r.findings[0].hint, /ssh -p 22 root@198.18.0.12/)
    assert.equal(cell(r, 'Host-A', 'Host-B').verdict, 'unknown')
    assert.equal(cell(r, 'Host-B', 'Host-C').verdict, 'unknown')
  })

  it('every finding carries a hint', () => {
    const f = healthy()
    hostOf(f, 'Host-A').wg = null
    hostOf(f, 'Host-B').exposure = {epmd: 'open'}
    hostOf(f, 'Host-C').localEpmd = {state: 'filtered'}
    for (const x of diagnose(mesh(), f).findings) assert.ok(x.hint.length > 10, x.check)
  })
})

describe('doctor verdicts in the other BEAM modes', () => {
  const withBeam = (beam: Partial<Mesh['beam']>): Mesh => {
    const m = mesh()
    return {...m, beam: {...m.beam, ...beam}}
  }
  /** naming: name: peers dial app@<WireGuard IPv4>. */
  const byIp = {nodeName: (h: Mesh['hosts'][number]) => `app@${h.ipv4}`}

  it('naming: name, wrong node name: dist-name with a -name hint, no hostnamectl', () => {
    const f = healthy()
    for (const h of ['Host-A', 'Host-C']) Object.assign(hostOf(f, h).links!['Host-B'].dist!, {announcedName: 'app@127.0.0.1', nameMatches: false})
    const r = diagnose(withBeam({naming: 'name'}), f, byIp)
    assert.deepEqual(r.findings.map((x) => [x.host, x.peer, x.check]), [['Host-A', 'Host-B', 'dist-name'], ['Host-C', 'Host-B', 'dist-name']])
    assert.match(r.findings[0].message, /dialled app@10\.77\.0\.2 but the node calls itself app@127\.0\.0\.1/)
    assert.match(r.findings[0].hint, /-name app@10\.77\.0\.2/)
    assert.doesNotMatch(r.findings[0].hint, /hostnamectl/)
  })

  it('naming: name, node not registered: the hint names -name, not -sname', () => {
    const f = healthy()
    hostOf(f, 'Host-A').localEpmd = {state: 'open', nodes: [{name: 'other', port: 9100}]}
    const r = diagnose(withBeam({naming: 'name'}), f, byIp)
    assert.deepEqual(r.findings.map((x) => x.check), ['node-registered'])
    assert.match(r.findings[0].hint, /erl -name app@10\.77\.0\.1 -args_file /)
    assert.doesNotMatch(r.findings[0].hint, /-sname/)
  })

  it('naming: name, another hostname: a warning only (the node name does not use it)', () => {
    const f = healthy()
    hostOf(f, 'Host-B').hostname = {hostname: 'host-b', short: 'host-b'}
    const r = diagnose(withBeam({naming: 'name'}), f, byIp)
    assert.deepEqual(r.findings.map((x) => [x.severity, x.check]), [['warn', 'hostname']])
    assert.ok(r.healthy)
  })

  it('EPMD-less, node down: refused dial of the fixed port -> dist-reach "no node" toward it, hint: start the release', () => {
    const f = healthy()
    for (const h of f.hosts) {
      h.localEpmd = {state: 'closed'}
      for (const l of Object.values(h.links!)) delete l.epmd
    }
    for (const h of ['Host-A', 'Host-C']) hostOf(f, h).links!['Host-B'].dist = {port: 9200, state: 'closed', detail: 'connect ECONNREFUSED'}
    const r = diagnose(withBeam({epmd: false, distPortMin: 9200, distPortMax: 9200}), f)
    assert.deepEqual(r.findings.map((x) => [x.host, x.peer, x.check]), [['Host-A', 'Host-B', 'dist-reach'], ['Host-C', 'Host-B', 'dist-reach']])
    assert.match(r.findings[0].message, /app@Host-B.*10\.77\.0\.2:9200 \(refused\)/)
    assert.match(r.findings[0].hint, /node on Host-B is not running/)
    assert.match(r.findings[0].hint, /-erl_epmd_port 9200/)
    assert.deepEqual(cell(r, 'Host-A', 'Host-B'), {verdict: 'fail', label: 'no node'})
    assert.equal(cell(r, 'Host-B', 'Host-A').verdict, 'ok')
    assert.ok(!r.findings.some((x) => x.check.startsWith('epmd')), 'no epmd findings without epmd')
  })

  it('EPMD-less, port dropped (filtered): the firewall hint stays', () => {
    const f = healthy()
    hostOf(f, 'Host-A').links!['Host-B'].dist = {port: 9200, state: 'filtered'}
    const r = diagnose(withBeam({epmd: false, distPortMin: 9200, distPortMax: 9200}), f)
    assert.deepEqual(r.findings.map((x) => x.check), ['dist-reach'])
    assert.match(r.findings[0].hint, /open 9200-9200\/tcp on wg0 on Host-B/)
    assert.equal(cell(r, 'Host-A', 'Host-B').label, 'dist blk')
  })
})
