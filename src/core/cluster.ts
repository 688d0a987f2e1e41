// The cluster as the BEAM sees it, pure: each node's erlang:nodes() (from the hidden probes) -> an N×N
// "connected" matrix, the connected components, and findings. A root cause is reported once: a pair
// whose tunnel, EPMD or distribution checks already fail gets no second finding here, a pair split by a
// partition is named by the partition, and a node the probe could not ask is one finding on that node.
import type {ClusterProbeFact, ClusterProbeStatus} from './cluster-facts.js'
import type {Cell, ClusterCheckId, ClusterFinding, ClusterReport, DoctorReport, Severity, Verdict} from './doctor-report.js'
import type {Mesh, MeshHost} from './model.js'

export interface ClusterContext {
  mesh: Mesh
  nodeName: (h: MeshHost) => string
  /** The cookie file on the hosts, for messages. */
  cookiePath: string
}

const SELF: Record<ClusterProbeStatus, Cell> = {
  'ok': {verdict: 'ok', label: 'ok'},
  'no-erl': {verdict: 'unknown', label: 'no erl'},
  'no-cookie': {verdict: 'fail', label: 'no cookie'},
  'no-node': {verdict: 'unknown', label: 'no node'},
  'cookie': {verdict: 'fail', label: 'cookie'},
  'name': {verdict: 'fail', label: 'name!'},
  'failed': {verdict: 'unknown', label: 'probe ?'},
}

const EXCUSED = new Set<ClusterProbeStatus>(['cookie', 'name', 'no-node', 'no-cookie'])
const green = (v: Verdict) => v === 'ok' || v === 'warn'
const f = (severity: Severity, host: string, check: ClusterCheckId, label: string, message: string, hint: string, peer?: string): ClusterFinding =>
  ({severity, host, ...(peer ? {peer} : {}), check, label, message, hint})

/** Connected components of an undirected graph given as adjacency sets, in input order. */
export function components(names: string[], linked: (a: string, b: string) => boolean): string[][] {
  const seen = new Set<string>()
  const out: string[][] = []
  for (const start of names) {
    if (seen.has(start)) continue
    const group: string[] = []
    const queue = [start]
    seen.add(start)
    while (queue.length) {
      const cur = queue.shift()!
      group.push(cur)
      for (const n of names) {
        if (!seen.has(n) && linked(cur, n)) {
          seen.add(n)
          queue.push(n)
        }
      }
    }
    out.push(group.sort((a, b) => names.indexOf(a) - names.indexOf(b)))
  }
  return out
}

export function analyzeCluster(ctx: ClusterContext, base: DoctorReport, probes: ClusterProbeFact[]): ClusterReport {
  const hosts = ctx.mesh.hosts
  const names = hosts.map((h) => h.name)
  const expected = hosts.map((h) => ctx.nodeName(h))
  const probeOf = new Map(probes.map((p) => [p.host, p]))
  const view = (i: number) => {
    const p = probeOf.get(names[i])
    return p?.status === 'ok' ? new Set(p.nodes) : null
  }
  const views = names.map((_, i) => view(i))
  const lists = (i: number, j: number) => views[i]?.has(expected[j]) ?? false
  const matrix: Cell[][] = names.map((_, i) =>
    names.map((__, j) => {
      const p = probeOf.get(names[i])
      if (i === j) return p ? SELF[p.status] : {verdict: 'unknown', label: base.matrix[i]?.[i]?.label === 'no ssh' ? 'no ssh' : '?'}
      if (!views[i]) return {verdict: 'unknown', label: '?'}
      return lists(i, j) ? {verdict: 'ok', label: 'ok'} : {verdict: 'fail', label: 'no conn'}
    }),
  )
  // A node nobody could ask still belongs to the part whose nodes list it (e.g. a host without erl).
  const members = names.filter((_, i) => views[i] || views.some((v) => v?.has(expected[i])))
  // Connections are symmetric in Erlang; either side listing the other counts (a snapshot may race a reconnect).
  const comps = components(members, (a, b) => lists(names.indexOf(a), names.indexOf(b)) || lists(names.indexOf(b), names.indexOf(a)))
  const findings: ClusterFinding[] = [...probes.flatMap((p) => probeFindings(ctx, base, p)), ...strangerFindings(ctx, probes, expected)]
  if (comps.length > 1) findings.push(partitionFinding(ctx, comps))
  const compOf = (n: string) => comps.findIndex((c) => c.includes(n))
  // A node that refuses the mesh (cookie, name) or is not there has its own finding: its pairs add nothing.
  const excused = (i: number) => EXCUSED.has(probeOf.get(names[i])?.status ?? 'failed')
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      if (excused(i) || excused(j) || (!views[i] && !views[j])) continue
      const sees = [views[i] ? lists(i, j) : null, views[j] ? lists(j, i) : null]
      if (!sees.includes(false)) continue
      const ci = compOf(names[i])
      if (ci >= 0 && compOf(names[j]) >= 0 && ci !== compOf(names[j])) continue // the partition finding names them
      // Only when everything under the BEAM is green: otherwise the failing check is the cause.
      if (!green(base.matrix[i][j].verdict) || !green(base.matrix[j][i].verdict)) continue
      findings.push(missingFinding(ctx, hosts[i], hosts[j], sees[0], sees[1]))
    }
  }
  return {hosts: names, matrix, components: comps, probes, findings}
}

const releaseHint = 'restart the release with the env.sh that beam-mesh renders (it reads RELEASE_COOKIE from the cookie file)'

function probeFindings(ctx: ClusterContext, base: DoctorReport, p: ClusterProbeFact): ClusterFinding[] {
  const n = p.host
  const node = p.node ?? n
  // Something about this host's node is already reported (no epmd, not registered, wrong hostname, unreachable).
  const explained = base.findings.some((x) => x.host === n || x.peer === n)
  switch (p.status) {
    case 'ok':
      return []
    case 'no-erl':
      return [f('warn', n, 'cluster-probe', 'no erl', `cannot ask ${node} whom it is connected to: no erl on ${n}${p.erl ? ` (looked in ${p.erl})` : ''}`,
        'set beam.releaseRoot in the inventory to the release folder on the hosts (the one holding erts-*/bin/erl), or install Erlang on the host; or skip this check with --no-cluster')]
    case 'no-cookie':
      return [f('fail', n, 'cluster-probe', 'no cookie', `cannot ask ${node}: ${p.detail ?? `${ctx.cookiePath} is missing`}`, `mesh apply --hosts ${n} (writes ${ctx.cookiePath})`)]
    case 'cookie':
      return [f('fail', n, 'cluster-cookie', 'cookie', `${node} is up and registered, but refuses the mesh cookie (${ctx.cookiePath}): the running node uses another cookie, so no peer of the mesh can connect to it`,
        `${releaseHint} on ${n}; look for a -setcookie, RELEASE_COOKIE or ~/.erlang.cookie of the release's user that overrides it (rel/env.sh.eex must source the beam-mesh env.sh after setting its own cookie, not before)`)]
    case 'name':
      if (explained) return []
      return [f('fail', n, 'cluster-name', 'name!', `the node on ${n} calls itself ${p.announcedName}, the mesh expects ${node}: peers and libcluster dial ${node} and are refused`,
        ctx.mesh.beam.naming === 'name'
          ? `start the release on ${n} as ${node} (RELEASE_NODE from the beam-mesh env.sh) and restart it`
          : `start the release on ${n} with -sname ${node} (RELEASE_NODE from the beam-mesh env.sh); the host part is the hostname: hostnamectl set-hostname ${n}`)]
    case 'no-node':
      return explained ? [] : [f('warn', n, 'cluster-probe', 'no node', `${node} is not registered on ${n}${p.registered?.length ? ` (EPMD knows ${p.registered.join(', ')})` : ''}`, `start the release on ${n}`)]
    case 'failed':
      return explained ? [] : [f('warn', n, 'cluster-probe', 'probe ?', `could not ask ${node} whom it is connected to: ${p.detail ?? 'no answer'}`, `run mesh doctor again; if it persists, try on ${n}: bin/<release> rpc 'IO.inspect(Node.list())'`)]
  }
}

/** A node connected to something the mesh does not name: another basename, another host spelling. */
function strangerFindings(ctx: ClusterContext, probes: ClusterProbeFact[], expected: string[]): ClusterFinding[] {
  const out: ClusterFinding[] = []
  for (const p of probes) {
    const strangers = (p.nodes ?? []).filter((x) => !expected.includes(x))
    if (!strangers.length) continue
    out.push(f('warn', p.host, 'cluster-name', 'stranger', `${p.node} is connected to ${strangers.join(', ')}, not a node name of this mesh (expected ${expected.join(', ')})`,
      `a node with another name (basename, or host part: the names are case-sensitive) joined the cluster; start it as the mesh names it (RELEASE_NODE in the beam-mesh env.sh), or disconnect it if it does not belong`))
  }
  return out
}

function partitionFinding(ctx: ClusterContext, comps: string[][]): ClusterFinding {
  const alone = comps.filter((c) => c.length === 1).map((c) => c[0])
  const parts = comps.map((c) => `[${c.join(', ')}]`).join(' | ')
  return {
    ...f('fail', comps[0][0], 'cluster-partition', `${comps.length} parts`, `the cluster is split into ${comps.length} parts that do not see each other: ${parts}` +
      (alone.length ? `; ${alone.join(', ')} ${alone.length === 1 ? 'is' : 'are'} connected to no node at all` : ''),
    `${alone.length ? `a node alone usually runs without libcluster's topology (Cluster.Supervisor with the topologies of the beam-mesh libcluster.exs) or started before the tunnel and gave up: restart it after wg-quick@${ctx.mesh.interface}; ` : ''}` +
      `to join the parts now, on one host of each part: bin/<release> rpc 'Node.connect(:"<node of the other part>")'; with libcluster's :timeout (in libcluster.exs) they rejoin by themselves`),
    components: comps,
  }
}

function missingFinding(ctx: ClusterContext, a: MeshHost, b: MeshHost, aSeesB: boolean | null, bSeesA: boolean | null): ClusterFinding {
  const na = ctx.nodeName(a)
  const nb = ctx.nodeName(b)
  const who =
    aSeesB === null || bSeesA === null
      ? `${aSeesB === null ? nb : na} does not list ${aSeesB === null ? na : nb} in erlang:nodes(); ${aSeesB === null ? na : nb} could not be asked`
      : aSeesB || bSeesA
        ? `${aSeesB ? na : nb} lists ${aSeesB ? nb : na} but not the other way round`
        : 'neither lists the other in erlang:nodes()'
  return f('fail', a.name, 'cluster-missing', 'no conn', `${na} and ${nb} are not connected (${who}), though the tunnel, EPMD and distribution between them check out`,
    `likely libcluster's topology is not started on one of them (Cluster.Supervisor with the topologies of libcluster.exs), or a node started before the tunnel and libcluster gave up (set :timeout; start the release after wg-quick@${ctx.mesh.interface}); ` +
      `to connect them now: on ${a.name}, bin/<release> rpc 'Node.connect(:"${nb}")'`, b.name)
}

const RANK: Record<Severity, number> = {critical: 0, fail: 1, warn: 2}

/** The doctor report with the cluster view: its findings count in the summary and in healthy. */
export function withCluster(report: DoctorReport, cluster: ClusterReport): DoctorReport & {cluster: ClusterReport} {
  cluster.findings.sort((x, y) => RANK[x.severity] - RANK[y.severity] || cluster.hosts.indexOf(x.host) - cluster.hosts.indexOf(y.host))
  const summary = {...report.summary}
  for (const x of cluster.findings) summary[x.severity]++
  return {...report, summary, healthy: summary.critical + summary.fail === 0, cluster}
}
