// Prints how long `mesh apply` takes on 1, 4 and 16 lab hosts (network namespaces with their own sshd on
// this machine): a cold apply (nothing on the hosts yet) and a no-op re-apply, through the real CLI, with the
// ratio to 1 host, and the 1-minute load average right after each size (the machine is shared: say how busy it
// was). Figures only: nothing here asserts a timing. Needs root and the lab packages.
// Run: node --import tsx bench/apply.ts [sizes...]   (default 1 4 16 64)
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg} from 'node:os'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'

import {UserError} from '../src/core/errors.js'
import {checkLabPrerequisites, labDown, labUp} from '../src/lab/index.js'
import {LabSlot, claimLabSlot} from '../src/lab/slot.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
const SIZES = sizes.length ? sizes : [1, 4, 16, 64]

// A signal must not kill the process before the finally below took the lab down: note it, stop at the next step.
let interrupted = ''
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (interrupted = sig))

function mesh(args: string[]): number {
  if (interrupted) throw new Error(`interrupted (${interrupted})`)
  const t0 = performance.now()
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  if (res.status !== 0) throw new Error(`mesh ${args.join(' ')} exited ${res.status}: ${res.stderr}`)
  return performance.now() - t0
}

/** Another lab on the same addresses: wait for it rather than tear down what is not ours. */
async function upPatiently(n: number, dir: string, slot: LabSlot) {
  const until = Date.now() + 5 * 60_000
  for (;;) {
    try {
      return await labUp({hosts: n, dir, prefix: slot.prefix, net: slot.net})
    } catch (err) {
      if (!(err instanceof UserError && /already/.test(err.message)) || Date.now() > until) throw err
      console.error(`bench/apply: lab addresses busy (${err.message}); retrying in 10 s`)
      await sleep(10_000)
    }
  }
}

const fmt = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`)

async function main() {
  const p = checkLabPrerequisites()
  if (!p.ok) {
    console.log(`bench/apply: skipped: ${p.reason}`)
    console.log(`BENCH ${JSON.stringify({bench: 'apply', skipped: p.reason})}`)
    return
  }
  const rows: {n: number; up: number; init: number; cold: number; noop: number; load: number}[] = []
  for (const n of SIZES) {
    const dir = mkdtempSync(join(tmpdir(), 'beam-mesh-bench-apply-'))
    const slot = claimLabSlot() // a free prefix and /24, so the bench never meets another run's lab
    const t0 = performance.now()
    try {
      const lab = await upPatiently(n, dir, slot)
      const up = performance.now() - t0
      const common = ['-i', lab.inventory, '--state', join(dir, 'state')]
      const init = mesh(['init', ...common, '--out', join(dir, 'out')])
      const cold = mesh(['apply', ...common, '--yes'])
      const noop = mesh(['apply', ...common, '--yes'])
      rows.push({n, up, init, cold, noop, load: loadavg()[0]})
      console.error(`bench/apply: ${n} hosts done`)
    } finally {
      await labDown({dir, prefix: slot.prefix})
      rmSync(dir, {recursive: true, force: true})
      slot.release()
    }
    if (interrupted) process.exit(130)
  }
  const base = rows.find((r) => r.n === 1) ?? rows[0]
  const table = [
    ['hosts', 'lab up', 'init', 'cold apply', 'x 1 host', 'no-op re-apply', 'x 1 host', 'load avg'],
    ...rows.map((r) => [String(r.n), fmt(r.up), fmt(r.init), fmt(r.cold), (r.cold / base.cold).toFixed(2), fmt(r.noop), (r.noop / base.noop).toFixed(2), r.load.toFixed(1)]),
  ]
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)))
  console.log(`mesh apply on lab hosts (node ${process.version}, default --concurrency 8, wall time of the CLI process)`)
  for (const row of table) console.log(row.map((c, i) => c.padEnd(widths[i])).join('  '))
  // Machine-readable last line, tabulated by scripts/run-bench.mjs.
  const bench = {
    bench: 'apply',
    node: process.version,
    date: new Date().toISOString(),
    rows: rows.map((r) => ({hosts: r.n, upMs: Math.round(r.up), initMs: Math.round(r.init), coldMs: Math.round(r.cold), coldRatio: +(r.cold / base.cold).toFixed(2), noopMs: Math.round(r.noop), noopRatio: +(r.noop / base.noop).toFixed(2), load1: +r.load.toFixed(2)})),
  }
  console.log(`BENCH ${JSON.stringify(bench)}`)
}

await main()
