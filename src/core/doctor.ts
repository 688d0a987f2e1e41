// `mesh doctor` verdicts, pure: the mesh model + probe facts -> findings and an N×N matrix.
// Root causes are reported once: when a host is unreachable or its tunnel is down, the cells
// towards it say so, but no per-peer findings are added that would only repeat the cause.
import {hostChecks, pairChecks} from './doctor-checks.js'
import type {DoctorHostFacts, DoctorMeshFacts} from './doctor-facts.js'
import type {CheckContext, CheckId, Cell, DoctorReport, Finding, Severity, Verdict} from './doctor-report.js'
import type {Mesh, MeshHost} from './model.js'

export interface DiagnoseOptions {
  /** The node name dialled for a host; default `<beam.nodeBasename>@<host name>`. */
  nodeName?: (host: MeshHost) => string
}

const RANK: Record<Severity, number> = {critical: 0, fail: 1, warn: 2}
const VERDICT: Record<Severity, Verdict> = {critical: 'fail', fail: 'fail', warn: 'warn'}

function cellOf(findings: Finding[]): Cell {
  if (findings.length === 0) return {verdict: 'ok', label: 'ok'}
  const worst = [...findings].sort((x, y) => RANK[x.severity] - RANK[y.severity])[0]
  return {verdict: VERDICT[worst.severity], label: findings.length > 1 ? `${worst.label} +${findings.length - 1}` : worst.label}
}

/** Why nothing can be checked between two hosts, if anything: unreachable host or tunnel down. */
function blocker(h: DoctorHostFacts | undefined): Cell | null {
  if (!h) return {verdict: 'unknown', label: '?'}
  if (!h.connected) return {verdict: 'unknown', label: 'no ssh'}
  if (h.wg === null) return {verdict: 'fail', label: 'wg down'}
  return null
}

export function diagnose(mesh: Mesh, facts: DoctorMeshFacts, opts: DiagnoseOptions = {}): DoctorReport {
  const ctx: CheckContext = {
    mesh,
    nowEpochS: facts.nowEpochS,
    nodeName: opts.nodeName ?? ((h) => `${mesh.beam.nodeBasename}@${h.name}`),
  }
  const byName = new Map(facts.hosts.map((h) => [h.host, h]))
  const findings: Finding[] = []
  const matrix: Cell[][] = mesh.hosts.map((from, i) =>
    mesh.hosts.map((to, j) => {
      const fa = byName.get(from.name)
      if (i === j) {
        if (!fa || !fa.connected) {
          if (fa) findings.push(sshFinding(from, fa))
          return blocker(fa)!
        }
        const own = hostChecks(ctx, from, fa)
        findings.push(...own)
        return cellOf(own)
      }
      // A blocked source explains its whole row; a blocked target its whole column.
      const blocked = blocker(fa) ?? blocker(byName.get(to.name))
      if (blocked) return blocked
      const pair = pairChecks(ctx, from, to, fa!, byName.get(to.name)!)
      findings.push(...pair)
      return pairCell(pair, byName.get(to.name)!, ctx)
    }),
  )
  findings.sort((x, y) => RANK[x.severity] - RANK[y.severity] || mesh.hosts.findIndex((h) => h.name === x.host) - mesh.hosts.findIndex((h) => h.name === y.host))
  const summary: Record<Severity, number> = {critical: 0, fail: 0, warn: 0}
  for (const x of findings) summary[x.severity]++
  return {hosts: mesh.hosts.map((h) => h.name), matrix, findings, summary, healthy: summary.critical + summary.fail === 0}
}

/** A cell also fails when the target's own epmd/node is missing, though the finding lives on the target. */
function pairCell(pair: Finding[], target: DoctorHostFacts, ctx: CheckContext): Cell {
  const cell = cellOf(pair)
  if (cell.verdict === 'fail' || !ctx.mesh.beam.epmd) return cell
  if (target.localEpmd && target.localEpmd.state !== 'open') return {verdict: 'fail', label: 'no epmd'}
  return cell
}

function sshFinding(host: MeshHost, h: DoctorHostFacts): Finding {
  const target = `${host.ssh.user ? `${host.ssh.user}@` : ''}${host.ssh.host}:${host.ssh.port ?? 22}`
  return {
    severity: 'fail',
    host: host.name,
    check: 'ssh' satisfies CheckId,
    label: 'no ssh',
    message: `cannot connect over SSH to ${target}${h.connectError ? `: ${h.connectError}` : ''}; nothing on this host was checked`,
    hint: `check that ${target} accepts SSH from here (ssh -p ${host.ssh.port ?? 22} ${host.ssh.user ?? 'root'}@${host.ssh.host} true) and that its host key is in known_hosts`,
  }
}
