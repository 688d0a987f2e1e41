// Prints the start-up time of the CLI: `mesh --version` (node + oclif loading, no real work), the median and
// spread of N runs. Figures only. Needs dist/ (`npm run build`). Run: node --import tsx bench/startup.ts [N]
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const N = Number(process.argv[2]) > 0 ? Number(process.argv[2]) : 21

function once(args: string[]): number {
  const t0 = performance.now()
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8'})
  if (res.status !== 0) throw new Error(`mesh ${args.join(' ')} exited ${res.status}: ${res.stderr}`)
  return performance.now() - t0
}

if (!existsSync(join(ROOT, 'dist', 'commands'))) {
  console.log('bench/startup: skipped: dist/ is missing (run `npm run build` first)')
  console.log(`BENCH ${JSON.stringify({bench: 'startup', skipped: 'dist/ is missing'})}`)
} else {
  once(['--version']) // warm the file cache: the first run after a build reads everything from disk
  const samples = Array.from({length: N}, () => once(['--version'])).sort((a, b) => a - b)
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]
  console.log(`mesh --version start-up (node ${process.version}, ${N} runs): median ${at(0.5).toFixed(0)} ms, min ${samples[0].toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms`)
  // Machine-readable last line, tabulated by scripts/run-bench.mjs.
  const bench = {bench: 'startup', node: process.version, date: new Date().toISOString(), runs: N, medianMs: Math.round(at(0.5)), minMs: Math.round(samples[0]), p90Ms: Math.round(at(0.9))}
  console.log(`BENCH ${JSON.stringify(bench)}`)
}
