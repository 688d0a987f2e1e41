// Prints how long `mesh doctor --json` takes on a healthy mesh of 1, 4, 16 and 64 lab hosts (each running an Erlang
// node `app`, as in test/e2e/apply.test.ts), the median of 3 runs through the real CLI, beside its floor measured in
// the same lab and run (bench/lib/floor.ts: one ssh per host, all at once, each pinging every other host's tunnel
// address; and the same with one Erlang VM booted on every host, the least the BEAM's view of the names costs), the
// ratios to those floors and to 1 host, and whether each report was healthy, with the 1-minute load
// average after each size. Figures only: nothing here asserts a timing. Needs root, the lab packages and
// erlang, and dist/ (`npm run build`). Lab prefix bmbd on 198.18.61.0/24, always taken down.
// Run: node --import tsx bench/doctor.ts [sizes...]   (default 1 4 16 64)
import {loadavg} from 'node:os'
import {join} from 'node:path'

import {checkLabPrerequisites, labExec} from '../src/lab/index.js'
import {BenchLab, emitBench, firstSessionsSaid, fmt, interrupted, meshOk, median, pool, printTable, runMesh, startAppNode, withBenchLab} from './lib/common.js'
import {runFloor, writeFloorScripts} from './lib/floor.js'

/** Doctor runs per size (BENCH_DOCTOR_RUNS): at 64 hosts on a busy machine one run takes minutes. */
const RUNS = Math.max(1, Number(process.env.BENCH_DOCTOR_RUNS ?? 3))
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
const SIZES = sizes.length ? sizes : [1, 4, 16, 64]

interface Row {
  n: number
  up: number
  apply: number
  nodes: number
  runs: number[]
  /** A floor run that failed is null: it has no figure, and the medians are of the runs that passed. */
  sweeps: (number | null)[]
  vmSweeps: (number | null)[]
  checked: (number | null)[]
  healthy: boolean[]
  findings: string
  load: number
}

async function main() {
  const p = checkLabPrerequisites()
  if (!p.ok) {
    console.log(`bench/doctor: skipped: ${p.reason}`)
    emitBench('doctor', {skipped: p.reason})
    return
  }
  const rows: Row[] = []
  // A size that fails (a lab that did not come up, an apply that failed) is said and the others still run: the
  // table shows what was measured, and the bench exits non-zero.
  const failedSizes: number[] = []
  for (const n of SIZES) {
    const row = await withBenchLab(n, async (lab): Promise<Row> => {
      const common = ['-i', lab.result.inventory, '--state', join(lab.dir, 'state')]
      const init = await meshOk(['init', ...common, '--out', join(lab.dir, 'out'), '--json'], {home: lab.home})
      const ips = new Map((JSON.parse(init.stdout).hosts as {name: string; ipv4: string}[]).map((h) => [h.name, h.ipv4]))
      const floor = writeFloorScripts(lab, join(lab.dir, 'out'), join(lab.dir, 'state'), ips)
      const apply = await meshOk(['apply', ...common, '--yes', '--json'], {home: lab.home, timeoutMs: 1_200_000})
      for (const line of firstSessionsSaid(apply.stdout)) console.log(`bench/doctor: ${n} hosts, cold apply: ${line}`)
      const t0 = performance.now()
      await pool(lab.hosts, 4, (h) => startAppNode(lab, h))
      const nodes = performance.now() - t0
      const runs: number[] = []
      const sweeps: (number | null)[] = []
      const vmSweeps: (number | null)[] = []
      const checked: (number | null)[] = []
      const healthy: boolean[] = []
      let findings = ''
      for (let i = 0; i < RUNS; i++) {
        // --no-cluster: the bench nodes are standalone (not clustered), and the figures stay comparable with earlier runs.
        const r = await runMesh(['doctor', ...common, '--json', '--no-cluster'], {home: lab.home, timeoutMs: 1_200_000})
        let report: {healthy: boolean; summary: Record<string, number>; findings: {severity: string; check: string; host: string; peer?: string}[]}
        try {
          report = JSON.parse(r.stdout)
        } catch {
          throw new Error(`doctor --json printed no JSON (exit ${r.status}): ${r.stderr.split('\n').slice(0, 8).join('\n')}`)
        }
        runs.push(r.ms)
        healthy.push(report.healthy && r.status === 0)
        if (!healthy.at(-1)) {
          // What made this run unhealthy, as doctor says it (findings name hosts and checks, never a secret).
          const bad = (report.findings as {severity: string; check: string; message?: string}[]).filter((f) => f.severity !== 'ok')
          console.error(`bench/doctor: ${n} hosts, run ${i + 1}: not healthy (exit ${r.status}): ${bad.slice(0, 10).map((f) => `${f.severity} ${f.check}: ${f.message ?? ''}`).join('; ') || r.stderr.split('\n').slice(0, 4).join(' ')}`)
          // Each pair whose ping failed, as WireGuard on both ends sees it right after: a session or none.
          for (const line of await pairStates(lab, report.findings.filter((f) => f.check === 'ping' && f.severity === 'fail'))) console.error(`bench/doctor:   ${line}`)
        }
        // Per severity, which checks: "12 fail (ping 10, epmd-reach 2)".
        findings = Object.entries(report.summary).filter(([k, v]) => v > 0 && k !== 'ok').map(([k, v]) => {
          const checks = new Map<string, number>()
          for (const f of report.findings.filter((x) => x.severity === k)) checks.set(f.check, (checks.get(f.check) ?? 0) + 1)
          return `${v} ${k}${checks.size ? ` (${[...checks].map(([c, m]) => `${c} ${m}`).join(', ')})` : ''}`
        }).join(', ') || 'none'
        console.error(`bench/doctor: ${n} hosts, run ${i + 1}: doctor ${fmt(r.ms)}, ${healthy.at(-1) ? 'healthy' : 'not healthy'}, load ${loadavg()[0].toFixed(1)}`)
        // The floor right after, in turn with doctor, so both see the same machine.
        sweeps.push(await floorRun(floor.ping, `${n} hosts, run ${i + 1}: ping sweep`))
        vmSweeps.push(await floorRun(floor.pingVm, `${n} hosts, run ${i + 1}: sweep + 1 VM`))
        checked.push(await floorRun(floor.doctorChecked, `${n} hosts, run ${i + 1}: checked floor`))
      }
      console.error(`bench/doctor: ${n} hosts done`)
      return {n, up: lab.upMs, apply: apply.ms, nodes, runs, sweeps, vmSweeps, checked, healthy, findings, load: loadavg()[0]}
    }).catch((e: unknown) => {
      if (interrupted()) throw e
      console.error(`bench/doctor: ${n} hosts failed: ${(e as Error).message}`)
      failedSizes.push(n)
      return undefined
    })
    if (row) rows.push(row)
  }
  if (!rows.length) throw new Error(`every size failed (${failedSizes.join(', ')} hosts)`)
  const base = rows.find((r) => r.n === 1) ?? rows[0]
  const med = (r: Row) => median(r.runs)
  const sweep = (r: Row) => floorMedian(r.sweeps)
  const vmSweep = (r: Row) => floorMedian(r.vmSweeps)
  const checkedFloor = (r: Row) => floorMedian(r.checked)
  /** mesh/floor, or '-' when every run of that floor failed. */
  const x = (mesh: number, floorMs: number | undefined) => (floorMs === undefined ? '-' : (mesh / floorMs).toFixed(2))
  const ms = (floorMs: number | undefined) => (floorMs === undefined ? 'failed' : fmt(floorMs))
  const json = (floorMs: number | undefined) => (floorMs === undefined ? undefined : Math.round(floorMs))
  const jsonX = (mesh: number, floorMs: number | undefined) => (floorMs === undefined ? undefined : +(mesh / floorMs).toFixed(2))
  console.log(`mesh doctor --json on a healthy lab mesh with an Erlang node per host (node ${process.version}, default --concurrency,`)
  console.log(`wall time of the CLI process, median of ${RUNS} runs; floor = ping-every-pair sweep over one ssh per host;`)
  console.log(`"+ 1 VM" = that sweep with an Erlang VM booted on every host beside it (doctor reads Erlang's own view of the`)
  console.log(`names, which takes a VM per host); "checked" = doctor's own checks by hand, one ssh and one VM per host (pings,`)
  console.log(`names, Erlang's answers, EPMD and the dist handshake to every peer); "x floor", "x +VM", "x checked" and "x 1 host" =`)
  console.log(`ratios of the medians)`)
  printTable([
    ['hosts', 'pairs', 'lab up', 'apply', 'start nodes', 'doctor (median)', 'min', 'max', 'ping sweep', 'x floor', '+ 1 VM', 'x +VM', 'checked', 'x checked', 'x 1 host', 'healthy', 'load avg', 'last findings'],
    ...rows.map((r) => [
      String(r.n),
      String(r.n * r.n),
      fmt(r.up),
      fmt(r.apply),
      fmt(r.nodes),
      fmt(med(r)),
      fmt(Math.min(...r.runs)),
      fmt(Math.max(...r.runs)),
      ms(sweep(r)),
      x(med(r), sweep(r)),
      ms(vmSweep(r)),
      x(med(r), vmSweep(r)),
      ms(checkedFloor(r)),
      x(med(r), checkedFloor(r)),
      (med(r) / med(base)).toFixed(2),
      `${r.healthy.filter(Boolean).length}/${r.healthy.length}`,
      r.load.toFixed(1),
      r.findings,
    ]),
  ])
  emitBench('doctor', {
    rows: rows.map((r) => ({
      hosts: r.n,
      medianMs: Math.round(med(r)),
      runsMs: r.runs.map(Math.round),
      floorMs: json(sweep(r)),
      sweepsMs: r.sweeps.map(runMs),
      vsFloor: jsonX(med(r), sweep(r)),
      vmFloorMs: json(vmSweep(r)),
      vmSweepsMs: r.vmSweeps.map(runMs),
      vsVmFloor: jsonX(med(r), vmSweep(r)),
      checkedFloorMs: json(checkedFloor(r)),
      checkedRunsMs: r.checked.map(runMs),
      vsCheckedFloor: jsonX(med(r), checkedFloor(r)),
      ratio: +(med(r) / med(base)).toFixed(2),
      healthy: r.healthy,
      load1: +r.load.toFixed(2),
    })),
    failedSizes,
  })
  if (failedSizes.length) process.exitCode = 1
}

/**
 * For each failed pair (at most 5): the peer's line of `wg show wg0 dump` on both ends, keys left out (its latest
 * handshake's age, bytes received and sent), read through the lab (no SSH), so a pair without a session is told
 * from a pair that had one and lost packets.
 */
async function pairStates(lab: BenchLab, failed: {host: string; peer?: string}[]): Promise<string[]> {
  const out: string[] = []
  for (const {host, peer} of failed.filter((f) => f.peer).slice(0, 5)) {
    for (const [a, b] of [[host, peer!], [peer!, host]]) {
      const peerIp = lab.host(b).address
      const r = await labExec(lab.host(a), ['wg', 'show', 'wg0', 'dump'], {timeoutMs: 10_000}).catch((e: unknown) => ({stdout: '', stderr: (e as Error).message}))
      const now = Math.floor(Date.now() / 1000)
      const line = r.stdout.split('\n').slice(1).map((l) => l.split('\t')).find((f) => f[2]?.startsWith(`${peerIp}:`))
      out.push(line
        ? `${a} -> ${b}: latest handshake ${Number(line[4]) ? `${now - Number(line[4])} s ago` : 'never'}, rx ${line[5]} B, tx ${line[6]} B`
        : `${a} -> ${b}: no peer with endpoint ${peerIp} (${r.stderr.trim().slice(0, 100)})`)
    }
  }
  return out
}

/** A floor's wall time, or null when it failed: what it said goes to stderr, and the run has no figure. */
async function floorRun(file: string, what: string): Promise<number | null> {
  try {
    return await runFloor(file)
  } catch (e) {
    if (interrupted()) throw e
    console.error(`bench/doctor: ${what} failed, no figure: ${(e as Error).message}`)
    return null
  }
}

/** The median of the floor runs that passed; undefined when none did. */
function floorMedian(runs: (number | null)[]): number | undefined {
  const passed = runs.filter((v): v is number => v !== null)
  return passed.length ? median(passed) : undefined
}

/** A run's figure for the BENCH line: ms, or null for a failed run. */
const runMs = (v: number | null) => (v === null ? null : Math.round(v))

await main()
