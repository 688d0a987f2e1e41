// Runs the test suites with node's test runner: unit and transport tests in parallel, then the
// end-to-end lab suite on its own (it needs root, and its hosts share the machine).
// Output: node's spec reporter on stdout; a TAP copy in a temp file is counted for one closing line
// "N passed, N failed, N skipped" over all groups, the same on every Node version.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {countLeaves} from './tap-count.mjs'

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'cli', 'transport', 'e2e']

function find(dir) {
  let out = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out = out.concat(find(path))
    else if (entry.endsWith('.test.ts')) out.push(path)
  }
  return out.sort()
}

const tapDir = mkdtempSync(join(tmpdir(), 'beam-mesh-tests-'))
const totals = {pass: 0, fail: 0, skipped: 0}
let failed = false
try {
  for (const group of [suites.filter((s) => s !== 'e2e'), suites.filter((s) => s === 'e2e')]) {
    const files = group.flatMap((s) => find(join('test', s)))
    if (!files.length) continue
    const concurrency = group.includes('e2e') ? '1' : '2'
    const tap = join(tapDir, `${group.join('-')}.tap`)
    const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`]
    args.push('--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`)
    const res = spawnSync(process.execPath, [...args, ...files], {stdio: 'inherit'})
    if (res.status !== 0) failed = true
    const text = readFileSync(tap, 'utf8')
    const counts = countLeaves(text)
    for (const key of Object.keys(totals)) totals[key] += counts[key]
  }
} finally {
  rmSync(tapDir, {recursive: true, force: true})
}
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`)
// A run that executed no test at all is a failure (a broken glob, a renamed folder), not a pass.
process.exit(failed || totals.pass + totals.skipped === 0 ? 1 : 0)
