// Prints how long `mesh init` takes for fleets of 10..1000 hosts: cold (keys generated, every file
// written) and re-run (nothing changed, nothing written), in-process via runInit, plus CLI start-up, and the
// peak memory of init for 1000 and 5000 hosts, each in a process of its own (BENCH_INIT_RSS_SIZES).
// Figures only: nothing here asserts a timing. Run: node --import tsx bench/init.ts [sizes...]
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {stringify} from 'yaml'

import {runInit} from '../src/services/init.js'
import {spawnMeasured} from '../test/support/max-rss.js'
import {replayTree, snapshotTree} from './lib/write-floor.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
const SIZES = sizes.length ? sizes : [10, 100, 250, 500, 1000]

/** n hosts in 198.18.0.0/15 (benchmark range), dual stack, a /18 so 5000 hosts fit. */
function inventory(n: number): string {
  return stringify({
    network: {interface: 'wg0', ipv4: '10.64.0.0/18', ipv6: 'fd64:64::/64', persistentKeepalive: 25},
    hosts: Array.from({length: n}, (_, i) => ({name: `node-${i}`, endpoint: `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`})),
  })
}

function time<T>(f: () => T): {ms: number; value: T} {
  const t0 = performance.now()
  const value = f()
  return {ms: performance.now() - t0, value}
}

const dirs: string[] = []
const cleanup = () => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))

const fmt = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`)
const data: {hosts: number; coldMs: number; written: number; rerunMs: number; rerunWritten: number; writeFloorMs: number}[] = []
const rows: string[][] = [['hosts', 'cold', 'write floor', 'x floor', 'files written', 're-run', 'written on re-run', 'per host (cold)']]
for (const n of SIZES) {
  const dir = mkdtempSync(join(tmpdir(), 'beam-mesh-bench-'))
  dirs.push(dir)
  const file = join(dir, `fleet-${n}.yaml`)
  writeFileSync(file, inventory(n))
  const cold = time(() => runInit({inventoryFile: file}))
  const warm = time(() => runInit({inventoryFile: file}))
  // The floor, right after the cold run: init's own files written again, the same way, into a fresh folder.
  const floorDir = mkdtempSync(join(tmpdir(), 'beam-mesh-bench-floor-'))
  dirs.push(floorDir)
  const floorMs = replayTree(snapshotTree(dir, (rel) => rel === `fleet-${n}.yaml`), floorDir)
  data.push({hosts: n, coldMs: Math.round(cold.ms), written: cold.value.written.length, rerunMs: Math.round(warm.ms), rerunWritten: warm.value.written.length, writeFloorMs: Math.round(floorMs)})
  rows.push([String(n), fmt(cold.ms), fmt(floorMs), `x${(cold.ms / floorMs).toFixed(2)}`, String(cold.value.written.length), fmt(warm.ms), String(warm.value.written.length), `${(cold.ms / n).toFixed(2)} ms`])
  rmSync(floorDir, {recursive: true, force: true})
  dirs.pop()
  rmSync(dir, {recursive: true, force: true})
  dirs.pop()
}

// Peak memory, each size in a process of its own (cold then re-run; maxRSS is the process's peak): the figure
// that bounds the fleet init can handle. 5000 hosts is the README's maximum (about 5 GB of configs on disk).
const RSS_SIZES = (process.env.BENCH_INIT_RSS_SIZES ?? '1000 5000').split(/\s+/).map(Number).filter((n) => n > 0)
// The built CLI, with a plain preload that reports its peak RSS (no TypeScript hooks in the measured process).
async function initProcess(file: string): Promise<{ms: number; written: number; maxRssMiB: number}> {
  const t0 = performance.now()
  const run = await spawnMeasured([], [join(ROOT, 'bin', 'run.js'), 'init', '-i', file, '--json'], {timeoutMs: 900_000})
  const ms = performance.now() - t0
  if (run.status !== 0) throw new Error(`exited ${run.status ?? run.signal}${run.hung ? ` (${run.hung})` : ''}: ${run.stderr.split('\n').slice(-3).join(' ')}`)
  return {ms, written: (JSON.parse(run.stdout) as {written: unknown[]}).written.length, maxRssMiB: run.maxRssMiB === null ? NaN : Math.round(run.maxRssMiB)}
}
const memory: {hosts: number; coldMs: number; rerunMs: number; rerunWritten: number; maxRssMiB: number}[] = []
for (const n of RSS_SIZES) {
  const dir = mkdtempSync(join(tmpdir(), 'beam-mesh-bench-'))
  dirs.push(dir)
  const file = join(dir, `fleet-${n}.yaml`)
  writeFileSync(file, inventory(n))
  try {
    const cold = await initProcess(file)
    const rerun = await initProcess(file)
    memory.push({hosts: n, coldMs: Math.round(cold.ms), rerunMs: Math.round(rerun.ms), rerunWritten: rerun.written, maxRssMiB: Math.max(cold.maxRssMiB, rerun.maxRssMiB)})
  } catch (e) {
    console.log(`mesh init of ${n} hosts: ${(e as Error).message}`)
  }
  rmSync(dir, {recursive: true, force: true})
  dirs.pop()
}

/** CLI start-up: the node process plus oclif loading the commands, with no real work. */
function cli(args: string[]): number {
  const t0 = performance.now()
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8'})
  if (res.status !== 0) throw new Error(`mesh ${args.join(' ')} exited ${res.status}: ${res.stderr}`)
  return performance.now() - t0
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
let startup = 'n/a (run `npm run build` first)'
let cliInit = startup
try {
  startup = fmt(median([0, 1, 2, 3, 4].map(() => cli(['--version']))))
  const dir = mkdtempSync(join(tmpdir(), 'beam-mesh-bench-'))
  dirs.push(dir)
  const file = join(dir, 'fleet-10.yaml')
  writeFileSync(file, inventory(10))
  cli(['init', '-i', file, '--json'])
  cliInit = fmt(median([0, 1, 2].map(() => cli(['init', '-i', file, '--json']))))
} catch (e) {
  startup = `failed: ${(e as Error).message.split('\n')[0]}`
}

const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padStart(widths[c]) : cell.padStart(widths[c]))).join('  '))
console.log(`\nin-process runInit on node ${process.version}; output and state on ${tmpdir()}`)
console.log('write floor: the same files, folders and modes written again as init writes them (keys and state.json fsynced, the rest temp + rename), nothing computed')
for (const m of memory) console.log(`${m.hosts} hosts, \`mesh init\` in a process of its own (start-up included): cold ${fmt(m.coldMs)}, re-run ${fmt(m.rerunMs)}, peak RSS ${m.maxRssMiB} MiB`)
console.log(`CLI start-up (\`mesh --version\`, median of 5): ${startup}`)
console.log(`CLI \`mesh init\` re-run of 10 hosts (median of 3): ${cliInit}`)
// Machine-readable last line, tabulated by scripts/run-bench.mjs.
console.log(`BENCH ${JSON.stringify({bench: 'init', node: process.version, date: new Date().toISOString(), rows: data, memory, cliStartup: startup, cliInitRerun10: cliInit})}`)
cleanup()
