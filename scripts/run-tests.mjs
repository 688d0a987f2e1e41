// `npm test`: lint, then the suites one after the other with node's test runner:
//   unit (pure, in-process: all its files in one process), cli (the built CLI, no root), transport (in-process ssh2 server, real scripts
//   through a local transport), e2e (root labs: real sshd, wg, erl, nft; one file at a time).
// Output: node's spec reporter on stdout; a TAP copy per suite in a temp file is counted for the suite's own
// closing line, then one overall line "N passed, N failed, N skipped", the same on every Node version.
// Under $CI a skipped test is a failure: CI installs every prerequisite, so a skip hides a test that never ran.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'

import {countLeaves} from './tap-count.mjs'

const SUITES = ['unit', 'cli', 'transport', 'e2e']
const args = process.argv.slice(2)
const lint = !args.includes('--no-lint') && existsSync('eslint.config.js')
const suites = args.filter((a) => !a.startsWith('--')).length ? args.filter((a) => !a.startsWith('--')) : SUITES

function find(dir) {
  let out = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out = out.concat(find(path))
    else if (entry.endsWith('.test.ts')) out.push(path)
  }
  return out.sort()
}

/**
 * The unit suite is pure code: its files run in one process (one entry importing them all) instead of one
 * process each, which is most of the suite's time (a TypeScript loader start per file).
 */
function oneProcess(files) {
  const entry = join(tapDir, 'unit-all.mjs')
  writeFileSync(entry, files.map((f) => `import ${JSON.stringify(pathToFileURL(resolve(f)).href)}\n`).join(''))
  return entry
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`
let failed = false

if (lint) {
  const started = Date.now()
  // One eslint run over the whole tree (src, test, bench, scripts), with the type information it needs.
  const res = spawnSync(process.execPath, [join('node_modules', 'eslint', 'bin', 'eslint.js'), '--max-warnings=0', '.'], {stdio: 'inherit'})
  // The import rules of src/ (README "Architecture"): no cycle, no upward import, no command importing a command.
  const layers = spawnSync(process.execPath, [join('scripts', 'check-layers.mjs')], {stdio: 'inherit'})
  const ok = res.status === 0 && layers.status === 0
  console.log(`lint: ${ok ? 'clean' : 'FAILED'} (${seconds(Date.now() - started)})`)
  if (!ok) failed = true
}

const tapDir = mkdtempSync(join(tmpdir(), 'beam-mesh-tests-'))
const totals = {pass: 0, fail: 0, skipped: 0}
try {
  for (const suite of suites) {
    if (!SUITES.includes(suite)) throw new Error(`unknown suite ${suite}: one of ${SUITES.join(', ')}`)
    const dir = join('test', suite)
    const files = existsSync(dir) ? find(dir) : []
    if (!files.length) {
      console.log(`${suite}: no test files in ${dir}`)
      failed = true
      continue
    }
    // e2e files share the machine's namespaces and CPU with their labs: one at a time.
    const concurrency = suite === 'e2e' ? '1' : '2'
    const tap = join(tapDir, `${suite}.tap`)
    const started = Date.now()
    const testArgs = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`]
    testArgs.push('--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`)
    const res = spawnSync(process.execPath, [...testArgs, ...(suite === 'unit' ? [oneProcess(files)] : files)], {stdio: 'inherit'})
    const counts = existsSync(tap) ? countLeaves(readFileSync(tap, 'utf8')) : {pass: 0, fail: 0, skipped: 0}
    for (const key of Object.keys(totals)) totals[key] += counts[key]
    const skipFails = process.env.CI && counts.skipped > 0
    const ok = res.status === 0 && counts.pass > 0 && !skipFails
    if (!ok) failed = true
    const why = skipFails ? ' (skips are failures under CI)' : counts.pass === 0 ? ' (no test passed)' : ''
    console.log(`${suite}: ${counts.pass} passed, ${counts.fail} failed, ${counts.skipped} skipped, ${files.length} files, ${seconds(Date.now() - started)}${ok ? '' : `: FAILED${why}`}`)
  }
} finally {
  rmSync(tapDir, {recursive: true, force: true})
}
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`)
// A run that executed no test at all is a failure (a broken glob, a renamed folder), not a pass.
process.exit(failed || totals.pass + totals.skipped === 0 ? 1 : 0)
