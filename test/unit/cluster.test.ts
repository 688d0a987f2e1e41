import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {ClusterProbeFact, parseClusterProbe} from '../../src/core/cluster-facts.js'
import {InventoryError} from '../../src/core/errors.js'
import {parseInventory} from '../../src/core/inventory.js'
import {analyzeCluster, components, withCluster} from '../../src/core/cluster.js'
import type {Cell, DoctorReport, Finding} from '../../src/core/doctor-report.js'
import type {Mesh} from '../../src/core/model.js'
import {probeErlFlags} from '../../src/services/doctor-cluster.js'
import {renderCluster} from '../../src/ui/cluster.js'
import {baseInventory, toYaml} from '../support/helpers.js'

const NAMES = ['Host-A', 'Host-B', 'Host-C', 'Host-D']
const node = (h: string) => `app@${h}`

function mesh(beam: Partial<Mesh['beam']> = {}): Mesh {
  return {
    interface: 'wg0',
    ipv4: '10.77.0.0/24',
    beam: {nodeBasename: 'app', naming: 'sname', epmd: true, distPortMin: 9100, distPortMax: 9105, firewall: false, ...beam},
    hosts: NAMES.map((name, i) => ({
      name, endpoint: `198.18.0.${11 + i}`, endpointIp: `198.18.0.${11 + i}`, listenPort: 51820,
      ipv4: `10.77.0.${i + 1}`, publicKey: 'k', ssh: {host: `198.18.0.${11 + i}`},
    })),
  }
}

/** A base doctor report with every cell green, optionally some base findings/cells. */
function base(findings: Finding[] = [], cells: [number, number, 'fail'][] = []): DoctorReport {
  const matrix: Cell[][] = NAMES.map(() => NAMES.map(() => ({verdict: 'ok', label: 'ok'})))
  for (const [i, j, v] of cells) matrix[i][j] = {verdict: v, label: 'no ping'}
  const summary = {critical: 0, fail: findings.filter((f) => f.severity === 'fail').length, warn: 0}
  return {hosts: NAMES, matrix, findings, summary, healthy: summary.fail === 0}
}

/** Probes where each host lists the given peers (a full mesh by default). */
function probes(links: Record<string, string[]> = {}): ClusterProbeFact[] {
  return NAMES.map((h) => ({host: h, node: node(h), status: 'ok', nodes: (links[h] ?? NAMES.filter((x) => x !== h)).map(node)}))
}

const ctx = {mesh: mesh(), nodeName: (h: {name: string}) => node(h.name), cookiePath: '/etc/beam-mesh/wg0/cookie'}
const checks = (r: ReturnType<typeof analyzeCluster>) => r.findings.map((f) => `${f.host}${f.peer ? `->${f.peer}` : ''} ${f.check}`)

describe('cluster probe output parser', () => {
  const parse = (stdout: string, code = 0, stderr = '') => parseClusterProbe('Host-B', 'app@Host-B', {code, stdout, stderr})

  it('connected: the node list, without anything that is not a node name', () => {
    const p = parse('@@erl /usr/bin/erl\n@@connect true\n@@nodes app@Host-A app@Host-C bad`name\n')
    assert.deepEqual(p, {host: 'Host-B', node: 'app@Host-B', erl: '/usr/bin/erl', status: 'ok', nodes: ['app@Host-A', 'app@Host-C']})
    assert.deepEqual(parse('@@erl /usr/bin/erl\n@@connect true\n@@nodes\n').nodes, [])
  })

  it('the handshake tag tells a cookie mismatch from a wrong name and from a node that is not there', () => {
    assert.equal(parse('@@connect false\n@@reason recv_challenge_ack_failed\n@@names app\n').status, 'cookie')
    const name = parse('@@connect false\n@@reason recv_challenge_failed\n@@announced app@host-b\n@@names app\n')
    assert.equal(name.status, 'name')
    assert.equal(name.announcedName, 'app@host-b')
    const down = parse('@@connect false\n@@reason shutdown\n@@names other\n')
    assert.equal(down.status, 'no-node')
    assert.deepEqual(down.registered, ['other'])
    const odd = parse('@@connect false\n@@reason none\n@@names app\n')
    assert.equal(odd.status, 'failed')
    assert.match(odd.detail!, /refused/)
  })

  it('no erl, no cookie file, a probe that died or timed out', () => {
    assert.deepEqual(parse('@@noerl PATH=/usr/bin:/bin\n'), {host: 'Host-B', node: 'app@Host-B', status: 'no-erl', erl: 'PATH=/usr/bin:/bin'})
    assert.equal(parse('@@erl /usr/bin/erl\n@@nocookie /etc/beam-mesh/wg0/cookie\n').status, 'no-cookie')
    assert.match(parse('@@erl /usr/bin/erl\n', 1, 'boom\nlast line\n').detail!, /exited 1: last line/)
    assert.match(parse('@@erl /usr/bin/erl\n@@timeout\n', 3).detail!, /timed out/)
  })
})

describe('cluster analysis', () => {
  it('full mesh: every cell ok, one part, no findings', () => {
    const r = analyzeCluster(ctx, base(), probes())
    assert.deepEqual(r.findings, [])
    assert.deepEqual(r.components, [NAMES])
    assert.ok(r.matrix.flat().every((c) => c.verdict === 'ok'))
  })

  it('a missing pair while the base checks are green: both ends named, with the likely cause', () => {
    const r = analyzeCluster(ctx, base(), probes({'Host-A': ['Host-C', 'Host-D'], 'Host-B': ['Host-C', 'Host-D']}))
    assert.deepEqual(checks(r), ['Host-A->Host-B cluster-missing'])
    assert.match(r.findings[0].message, /app@Host-A and app@Host-B are not connected \(neither lists the other/)
    assert.match(r.findings[0].hint, /libcluster/)
    assert.match(r.findings[0].hint, /before the tunnel/)
    assert.deepEqual([r.matrix[0][1].label, r.matrix[1][0].label], ['no conn', 'no conn'])
    assert.deepEqual(r.components, [NAMES], 'still one part')
  })

  it('a missing pair whose tunnel already fails: the cell says so, the base finding is the cause', () => {
    const r = analyzeCluster(ctx, base([], [[0, 1, 'fail']]), probes({'Host-A': ['Host-C', 'Host-D'], 'Host-B': ['Host-C', 'Host-D']}))
    assert.deepEqual(r.findings, [])
    assert.equal(r.matrix[0][1].verdict, 'fail')
  })

  it('a partition: its parts listed once, no per-pair findings across it; a lone node is called out', () => {
    const r = analyzeCluster(ctx, base(), probes({'Host-A': ['Host-B'], 'Host-B': ['Host-A'], 'Host-C': [], 'Host-D': []}))
    assert.deepEqual(checks(r), ['Host-A cluster-partition'])
    assert.deepEqual(r.components, [['Host-A', 'Host-B'], ['Host-C'], ['Host-D']])
    assert.deepEqual(r.findings[0].components, r.components)
    assert.match(r.findings[0].message, /split into 3 parts.*\[Host-A, Host-B\] \| \[Host-C\] \| \[Host-D\]; Host-C, Host-D are connected to no node/)
  })

  it('a node with another cookie: one finding on it, none for the pairs it is missing from', () => {
    const p = probes({'Host-A': ['Host-C', 'Host-D'], 'Host-C': ['Host-A', 'Host-D'], 'Host-D': ['Host-A', 'Host-C']})
    p[1] = {host: 'Host-B', node: 'app@Host-B', status: 'cookie', reason: 'recv_challenge_ack_failed'}
    const r = analyzeCluster(ctx, base(), p)
    assert.deepEqual(checks(r), ['Host-B cluster-cookie'])
    assert.match(r.findings[0].message, /refuses the mesh cookie \(\/etc\/beam-mesh\/wg0\/cookie\): the running node uses another cookie/)
    assert.match(r.findings[0].hint, /restart the release/)
    assert.deepEqual(r.matrix[1][1], {verdict: 'fail', label: 'cookie'})
    assert.deepEqual(r.matrix[1][0], {verdict: 'unknown', label: '?'})
    assert.equal(r.matrix[0][1].label, 'no conn')
    assert.deepEqual(r.components, [['Host-A', 'Host-C', 'Host-D']])
  })

  it('node names: a node answering to another name, and a stranger in nodes()', () => {
    const p = probes()
    p[1] = {host: 'Host-B', node: 'app@Host-B', status: 'name', announcedName: 'app@host-b'}
    p[0].nodes = ['app@host-b', 'app@Host-C', 'app@Host-D']
    const r = analyzeCluster(ctx, base(), p)
    assert.deepEqual(checks(r), ['Host-B cluster-name', 'Host-A cluster-name'])
    assert.match(r.findings[0].message, /calls itself app@host-b, the mesh expects app@Host-B/)
    assert.match(r.findings[1].message, /connected to app@host-b, not a node name of this mesh/)
    // Already explained by the base doctor (wrong hostname on Host-B): no second finding.
    const explained = analyzeCluster(ctx, base([{severity: 'fail', host: 'Host-B', check: 'hostname', label: 'hostname', message: '', hint: ''}]), p)
    assert.deepEqual(checks(explained), ['Host-A cluster-name'])
  })

  it('no erl: a warning that says how to enable the check; the node is left out, not failed', () => {
    const p = probes()
    p[2] = {host: 'Host-C', node: 'app@Host-C', status: 'no-erl', erl: 'PATH=/usr/bin'}
    const r = analyzeCluster(ctx, base(), p)
    assert.deepEqual(r.findings.map((f) => [f.severity, f.check]), [['warn', 'cluster-probe']])
    assert.match(r.findings[0].hint, /beam\.releaseRoot/)
    assert.deepEqual(r.matrix[2][2], {verdict: 'unknown', label: 'no erl'})
    const merged = withCluster(base(), r)
    assert.ok(merged.healthy, 'a warning keeps the mesh healthy')
    assert.equal(merged.summary.warn, 1)
  })

  it('an unreachable host has no probe: its row is unknown; a cluster failure makes the report unhealthy', () => {
    const r = analyzeCluster(ctx, base(), probes({'Host-A': ['Host-B'], 'Host-B': ['Host-A'], 'Host-C': ['Host-D'], 'Host-D': ['Host-C']}).slice(0, 3))
    assert.deepEqual(r.matrix[3].map((c) => c.verdict), ['unknown', 'unknown', 'unknown', 'unknown'])
    assert.deepEqual(r.components, [['Host-A', 'Host-B'], ['Host-C', 'Host-D']], 'Host-D belongs to the part that lists it')
    const merged = withCluster(base(), r)
    assert.equal(merged.healthy, false)
    assert.equal(merged.summary.fail, 1)
    assert.equal(merged.cluster, r)
  })

  it('a node that could not be asked: the views of its peers still name a missing pair', () => {
    const p = probes({'Host-B': ['Host-C', 'Host-D']})
    p[0] = {host: 'Host-A', node: 'app@Host-A', status: 'failed', detail: 'the probe timed out'}
    const r = analyzeCluster(ctx, base(), p)
    assert.deepEqual(checks(r), ['Host-A cluster-probe', 'Host-A->Host-B cluster-missing'])
    assert.match(r.findings[1].message, /app@Host-B does not list app@Host-A in erlang:nodes\(\); app@Host-A could not be asked/)
    assert.deepEqual(r.components, [NAMES])
  })

  it('components: transitive, in input order', () => {
    const edges = new Set(['a-b', 'b-c', 'd-e'])
    assert.deepEqual(components(['a', 'b', 'c', 'd', 'e', 'f'], (x, y) => edges.has(`${x}-${y}`) || edges.has(`${y}-${x}`)), [['a', 'b', 'c'], ['d', 'e'], ['f']])
  })
})

describe('cluster probe flags and rendering', () => {
  it('the probe is hidden, never listens, starts no epmd, never auto-connects; no cookie in argv', () => {
    const flags = probeErlFlags(mesh(), mesh().hosts[0], 'beam_mesh_doctor_1')
    const text = flags.join(' ')
    for (const want of ['-hidden', '-sname beam_mesh_doctor_1', '-dist_listen false', '-start_epmd false', '-connect_all false', '-kernel dist_auto_connect never']) {
      assert.ok(text.includes(want), `${want} in ${text}`)
    }
    assert.ok(!/cookie/i.test(text))
    const noEpmd = probeErlFlags(mesh({epmd: false, distPortMin: 9200, distPortMax: 9200}), mesh().hosts[0], 'p').join(' ')
    assert.match(noEpmd, /-start_epmd false -erl_epmd_port 9200/)
    assert.match(probeErlFlags(mesh({naming: 'name'}), mesh().hosts[1], 'p').join(' '), /-name p@10\.77\.0\.2/)
  })

  it('text: the matrix, the parts, then the findings', () => {
    const r = analyzeCluster(ctx, base(), probes({'Host-A': ['Host-B'], 'Host-B': ['Host-A'], 'Host-C': ['Host-D'], 'Host-D': ['Host-C']}))
    const out = renderCluster(r, {color: false})
    assert.match(out, /^Cluster \(erlang:nodes\(\)/)
    assert.match(out, /^Host-A\s+\[ok\]\s+ok\s+x no conn\s+x no conn$/m)
    assert.match(out, /^Parts: \[Host-A, Host-B\] \| \[Host-C, Host-D\]$/m)
    assert.match(out, /FAIL Host-A \(cluster-partition\): the cluster is split into 2 parts/)
    assert.match(renderCluster(analyzeCluster(ctx, base(), probes()), {color: false}), /Every node is connected to every other node\./)
  })
})

describe('beam.releaseRoot', () => {
  const withRoot = (releaseRoot: unknown) => toYaml({...baseInventory(), beam: {releaseRoot}})
  it('an absolute plain path is taken', () => {
    assert.equal(parseInventory(withRoot('/opt/app'), 'inv.yaml').beam.releaseRoot, '/opt/app')
  })
  it('a relative path is refused with the field and the fix, exit 2', () => {
    assert.throws(() => parseInventory(withRoot('opt/app'), 'inv.yaml'), (e: unknown) => {
      assert.ok(e instanceof InventoryError)
      assert.equal(e.exitCode, 2)
      const issue = e.issues.find((i) => i.path === 'beam.releaseRoot')
      assert.ok(issue, JSON.stringify(e.issues))
      assert.match(issue.message, /absolute path/)
      assert.match(issue.fix, /erts-\*\/bin\/erl/)
      return true
    })
  })
})
