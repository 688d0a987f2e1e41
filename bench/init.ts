// Prints how long `mesh init` takes for fleets of 10..1000 hosts: cold (keys generated, every file
// written) and re-run (nothing changed, nothing written), in-process via runInit, plus CLI start-up, and the
// peak memory of init for 1000 and 5000 hosts, each in a process of its own (BENCH_INIT_RSS_SIZES).
// Each size: medians of BENCH_INIT_ROUNDS (3) paired rounds against a write floor; 1000 hosts again on a RAM
// file system (BENCH_INIT_RAM_DIR, default /dev/shm).
// Figures only: nothing here asserts a timing. Run: node --import tsx bench/init.ts [sizes...]
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
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
// Cold init is bound by the file system: creating ~5 files per host costs more than computing them. On an ext4
// without a journal (this machine's disk), creating a file skips every inode freed in the last 30 s
// (dirty_expire_centisecs) and reads its inode block to know: after thousands of files were removed, each create
// costs ~0.7 ms of kernel CPU instead of ~0.05 (seen with perf: recently_deleted() in ext4_create). So nothing
// made on disk is removed before the bench ends, each size runs ROUNDS times (init and its floor in alternating
// order, fresh folders) and the medians are shown.
const ROUNDS = Math.max(1, Number(process.env.BENCH_INIT_ROUNDS ?? 3))
// The same at 1000 hosts on a RAM file system (when there is one): what init costs beside the disk.
const RAM_DIR = process.env.BENCH_INIT_RAM_DIR ?? '/dev/shm'
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

interface InitRow {hosts: number; coldMs: number; written: number; rerunMs: number; rerunWritten: number; writeFloorMs: number; rounds: number}
/** Paired rounds of cold init, re-run and write floor for n hosts under `base`; medians. */
function measureInit(n: number, base: string, removeEachRound = false): InitRow {
  const cold: number[] = []
  const rerun: number[] = []
  const floor: number[] = []
  let written = 0
  let rerunWritten = 0
  let snapshot: ReturnType<typeof snapshotTree> | undefined
  const made: string[] = []
  const fresh = (prefix: string) => {
    const d = mkdtempSync(join(base, prefix))
    made.push(d)
    dirs.push(d)
    return d
  }
  const runFloor = () => floor.push(replayTree(snapshot!, fresh('beam-mesh-bench-floor-')))
  const removeNow = (d: string) => {
    rmSync(d, {recursive: true, force: true})
    dirs.splice(dirs.indexOf(d), 1)
  }
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Odd rounds put the floor first (it needs the files of an earlier round's init).
      if (r % 2 === 1) runFloor()
      const dir = fresh('beam-mesh-bench-')
      const file = join(dir, `fleet-${n}.yaml`)
      writeFileSync(file, inventory(n))
      const c = time(() => runInit({inventoryFile: file}))
      const w = time(() => runInit({inventoryFile: file}))
      cold.push(c.ms)
      rerun.push(w.ms)
      written = c.value.written.length
      rerunWritten = Math.max(rerunWritten, w.value.written.length)
      snapshot ??= snapshotTree(dir, (rel) => rel === `fleet-${n}.yaml`)
      if (r % 2 === 0) runFloor()
      // A RAM file system is not slowed by removals, and keeping every round there would hold ~1 GiB of memory.
      if (removeEachRound) for (const d of made.splice(0)) removeNow(d)
    }
  } finally {
    if (removeEachRound) for (const d of made) removeNow(d)
  }
  return {hosts: n, coldMs: Math.round(median(cold)), written, rerunMs: Math.round(median(rerun)), rerunWritten, writeFloorMs: Math.round(median(floor)), rounds: ROUNDS}
}

const data: InitRow[] = SIZES.map((n) => measureInit(n, tmpdir()))
const rows: string[][] = [['hosts', 'cold', 'write floor', 'x floor', 'cold - floor', 'files written', 're-run', 'written on re-run']]
const row = (x: InitRow, label = String(x.hosts)) =>
  rows.push([label, fmt(x.coldMs), fmt(x.writeFloorMs), `x${(x.coldMs / x.writeFloorMs).toFixed(2)}`, fmt(x.coldMs - x.writeFloorMs), String(x.written), fmt(x.rerunMs), String(x.rerunWritten)])
for (const x of data) row(x)
let ram: InitRow | undefined
try {
  if (statSync(RAM_DIR).isDirectory()) ram = measureInit(1000, RAM_DIR, true)
} catch (e) {
  console.log(`no RAM file system measurement (${RAM_DIR}): ${(e as Error).message.split('\n')[0]}`)
}
if (ram) row(ram, `${ram.hosts} (${RAM_DIR})`)

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
  // Kept until the end (see ROUNDS above): removed now, it would slow the next size's cold run.
}

/** CLI start-up: the node process plus oclif loading the commands, with no real work. */
function cli(args: string[]): number {
  const t0 = performance.now()
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8'})
  if (res.status !== 0) throw new Error(`mesh ${args.join(' ')} exited ${res.status}: ${res.stderr}`)
  return performance.now() - t0
}
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
console.log(`\nin-process runInit on node ${process.version}; output and state on ${tmpdir()}; medians of ${ROUNDS} rounds, init and floor in alternating order`)
console.log('write floor: the same files, folders and modes written again as init writes them (keys and state.json fsynced, the rest temp + rename), nothing computed')
for (const m of memory) console.log(`${m.hosts} hosts, \`mesh init\` in a process of its own (start-up included): cold ${fmt(m.coldMs)}, re-run ${fmt(m.rerunMs)}, peak RSS ${m.maxRssMiB} MiB`)
console.log(`CLI start-up (\`mesh --version\`, median of 5): ${startup}`)
console.log(`CLI \`mesh init\` re-run of 10 hosts (median of 3): ${cliInit}`)
// Machine-readable last line, tabulated by scripts/run-bench.mjs.
console.log(`BENCH ${JSON.stringify({bench: 'init', node: process.version, date: new Date().toISOString(), rows: data, ramFs: ram, memory, cliStartup: startup, cliInitRerun10: cliInit})}`)
cleanup()
