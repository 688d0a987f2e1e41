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

import {checkLabPrerequisites} from '../src/lab/index.js'
import {emitBench, firstSessionsSaid, fmt, meshOk, median, pool, printTable, runMesh, startAppNode, withBenchLab} from './lib/common.js'
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
  sweeps: number[]
  vmSweeps: number[]
  checked: number[]
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
  for (const n of SIZES) {
    const row = await withBenchLab(n, async (lab) => {
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
      const sweeps: number[] = []
      const vmSweeps: number[] = []
      const checked: number[] = []
      const healthy: boolean[] = []
      let findings = ''
      for (let i = 0; i < RUNS; i++) {
        // --no-cluster: the bench nodes are standalone (not clustered), and the figures stay comparable with earlier runs.
        const r = await runMesh(['doctor', ...common, '--json', '--no-cluster'], {home: lab.home, timeoutMs: 1_200_000})
        let report: {healthy: boolean; summary: Record<string, number>; findings: {severity: string; check: string}[]}
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
        }
        // Per severity, which checks: "12 fail (ping 10, epmd-reach 2)".
        findings = Object.entries(report.summary).filter(([k, v]) => v > 0 && k !== 'ok').map(([k, v]) => {
          const checks = new Map<string, number>()
          for (const f of report.findings.filter((x) => x.severity === k)) checks.set(f.check, (checks.get(f.check) ?? 0) + 1)
          return `${v} ${k}${checks.size ? ` (${[...checks].map(([c, m]) => `${c} ${m}`).join(', ')})` : ''}`
        }).join(', ') || 'none'
        // The floor right after, in turn with doctor, so both see the same machine.
        sweeps.push(await runFloor(floor.ping))
        vmSweeps.push(await runFloor(floor.pingVm))
        checked.push(await runFloor(floor.doctorChecked))
      }
      console.error(`bench/doctor: ${n} hosts done`)
      return {n, up: lab.upMs, apply: apply.ms, nodes, runs, sweeps, vmSweeps, checked, healthy, findings, load: loadavg()[0]}
    })
    rows.push(row)
  }
  const base = rows.find((r) => r.n === 1) ?? rows[0]
  const med = (r: Row) => median(r.runs)
  const sweep = (r: Row) => median(r.sweeps)
  const vmSweep = (r: Row) => median(r.vmSweeps)
  const checkedFloor = (r: Row) => median(r.checked)
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
      fmt(sweep(r)),
      (med(r) / sweep(r)).toFixed(2),
      fmt(vmSweep(r)),
      (med(r) / vmSweep(r)).toFixed(2),
      fmt(checkedFloor(r)),
      (med(r) / checkedFloor(r)).toFixed(2),
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
      floorMs: Math.round(sweep(r)),
      sweepsMs: r.sweeps.map(Math.round),
      vsFloor: +(med(r) / sweep(r)).toFixed(2),
      vmFloorMs: Math.round(vmSweep(r)),
      vmSweepsMs: r.vmSweeps.map(Math.round),
      vsVmFloor: +(med(r) / vmSweep(r)).toFixed(2),
      checkedFloorMs: Math.round(checkedFloor(r)),
      checkedRunsMs: r.checked.map(Math.round),
      vsCheckedFloor: +(med(r) / checkedFloor(r)).toFixed(2),
      ratio: +(med(r) / med(base)).toFixed(2),
      healthy: r.healthy,
      load1: +r.load.toFixed(2),
    })),
  })
}

await main()
