// Prints how long `mesh apply` takes on 1, 4, 16 and 64 lab hosts (network namespaces with their own sshd on this
// machine) beside the OpenSSH floor measured in the same lab and the same run (bench/lib/floor.ts): a cold apply
// (nothing on the hosts) against one ssh per host writing the same files plus `wg-quick up`, and a no-op re-apply
// against one ssh per host reading them plus `wg show` (and a "checked" floor reading what mesh reads there, with the
// same programs: sums, owner and mode, /etc/hosts, the running peers); and the same two scripts run by a bare node
// process through ssh2 (bench/lib/ssh2-floor.mjs), the floor of any CLI built on node and ssh2. Each figure is the
// median of a few rounds (BENCH_APPLY_ROUNDS, default 3); the hosts are put back to bare before every cold run,
// untimed. The ratios mesh/floor are side by side, so they hold on a shared, busy machine better than the absolute
// times do; the 1-minute load average after each size is printed with them. Figures only: nothing here asserts a
// timing.
// Needs root, the lab packages and dist/ (`npm run build`).
// Run: node --import tsx bench/apply.ts [sizes...]   (default 1 4 16 64)
import {loadavg} from 'node:os'
import {join} from 'node:path'

import {checkLabPrerequisites} from '../src/lab/index.js'
import {emitBench, firstSessionsSaid, fmt, meshOk, median, printTable, withBenchLab} from './lib/common.js'
import {resetHosts, runFloor, runSsh2Floor, writeFloorScripts} from './lib/floor.js'

const ROUNDS = Math.max(1, Number(process.env.BENCH_APPLY_ROUNDS ?? 3))
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
const SIZES = sizes.length ? sizes : [1, 4, 16, 64]

interface Row {
  n: number
  up: number
  init: number
  cold: number[]
  floorCold: number[]
  noop: number[]
  floorNoop: number[]
  floorNoopChecked: number[]
  ssh2Cold: number[]
  ssh2Noop: number[]
  load: number
}

async function main() {
  const p = checkLabPrerequisites()
  if (!p.ok) {
    console.log(`bench/apply: skipped: ${p.reason}`)
    emitBench('apply', {skipped: p.reason})
    return
  }
  const rows: Row[] = []
  for (const n of SIZES) {
    const row = await withBenchLab(n, async (lab) => {
      const state = join(lab.dir, 'state')
      const out = join(lab.dir, 'out')
      const common = ['-i', lab.result.inventory, '--state', state]
      const init = await meshOk(['init', ...common, '--out', out, '--json'], {home: lab.home})
      const ips = new Map((JSON.parse(init.stdout).hosts as {name: string; ipv4: string}[]).map((h) => [h.name, h.ipv4]))
      const floor = writeFloorScripts(lab, out, state, ips)
      const r: Row = {n, up: lab.upMs, init: init.ms, cold: [], floorCold: [], noop: [], floorNoop: [], floorNoopChecked: [], ssh2Cold: [], ssh2Noop: [], load: 0}
      for (let i = 0; i < ROUNDS; i++) {
        await resetHosts(lab)
        r.floorCold.push(await runFloor(floor.cold))
        await resetHosts(lab)
        r.ssh2Cold.push(await runSsh2Floor(floor.ssh2Cold))
        await resetHosts(lab)
        const cold = await meshOk(['apply', ...common, '--yes', '--json'], {home: lab.home, timeoutMs: 1_200_000})
        r.cold.push(cold.ms)
        for (const line of firstSessionsSaid(cold.stdout)) console.log(`bench/apply: ${n} hosts, cold apply: ${line}`)
        // The hosts now hold what mesh wrote: both sides read the same state.
        r.noop.push((await meshOk(['apply', ...common, '--yes', '--json'], {home: lab.home, timeoutMs: 1_200_000})).ms)
        r.floorNoop.push(await runFloor(floor.noop))
        r.floorNoopChecked.push(await runFloor(floor.noopChecked))
        r.ssh2Noop.push(await runSsh2Floor(floor.ssh2Noop))
      }
      r.load = loadavg()[0]
      console.error(`bench/apply: ${n} hosts done`)
      return r
    })
    rows.push(row)
  }
  const m = (xs: number[]) => median(xs)
  console.log(`mesh apply on lab hosts beside the OpenSSH floor (node ${process.version}, default --concurrency, wall time of`)
  console.log(`the process, median of ${ROUNDS} rounds; "x floor" = mesh median / floor median, same lab, same run;`)
  console.log('"node+ssh2": the same floor scripts run by a bare node process through ssh2, "x n+s" = mesh / that;')
  console.log('"checked": the no-op floor reading what mesh reads with the same programs, "x chk" = mesh / that)')
  const x = (a: number[], b: number[]) => (m(a) / m(b)).toFixed(2)
  printTable([
    ['hosts', 'lab up', 'init', 'cold apply', 'floor', 'x floor', 'node+ssh2', 'x n+s', 'no-op re-apply', 'floor', 'x floor', 'checked', 'x chk', 'node+ssh2', 'x n+s', 'load avg'],
    ...rows.map((r) => [
      String(r.n),
      fmt(r.up),
      fmt(r.init),
      fmt(m(r.cold)),
      fmt(m(r.floorCold)),
      x(r.cold, r.floorCold),
      fmt(m(r.ssh2Cold)),
      x(r.cold, r.ssh2Cold),
      fmt(m(r.noop)),
      fmt(m(r.floorNoop)),
      x(r.noop, r.floorNoop),
      fmt(m(r.floorNoopChecked)),
      x(r.noop, r.floorNoopChecked),
      fmt(m(r.ssh2Noop)),
      x(r.noop, r.ssh2Noop),
      r.load.toFixed(1),
    ]),
  ])
  emitBench('apply', {
    rounds: ROUNDS,
    rows: rows.map((r) => ({
      hosts: r.n,
      upMs: Math.round(r.up),
      initMs: Math.round(r.init),
      coldMs: Math.round(m(r.cold)),
      floorColdMs: Math.round(m(r.floorCold)),
      coldVsFloor: +x(r.cold, r.floorCold),
      noopMs: Math.round(m(r.noop)),
      floorNoopMs: Math.round(m(r.floorNoop)),
      noopVsFloor: +x(r.noop, r.floorNoop),
      floorNoopCheckedMs: Math.round(m(r.floorNoopChecked)),
      noopVsCheckedFloor: +x(r.noop, r.floorNoopChecked),
      ssh2ColdMs: Math.round(m(r.ssh2Cold)),
      coldVsSsh2: +x(r.cold, r.ssh2Cold),
      ssh2NoopMs: Math.round(m(r.ssh2Noop)),
      noopVsSsh2: +x(r.noop, r.ssh2Noop),
      runs: {
        cold: r.cold.map(Math.round),
        floorCold: r.floorCold.map(Math.round),
        ssh2Cold: r.ssh2Cold.map(Math.round),
        noop: r.noop.map(Math.round),
        floorNoop: r.floorNoop.map(Math.round),
        floorNoopChecked: r.floorNoopChecked.map(Math.round),
        ssh2Noop: r.ssh2Noop.map(Math.round),
      },
      load1: +r.load.toFixed(2),
    })),
  })
}

await main()
