// Runs the test suites with node's test runner: unit and transport tests in parallel, then the
// end-to-end lab suite on its own (it needs root, and its hosts share the machine).
import {spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'transport', 'e2e']

function find(dir) {
  let out = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out = out.concat(find(path))
    else if (entry.endsWith('.test.ts')) out.push(path)
  }
  return out.sort()
}

let failed = false
for (const group of [suites.filter((s) => s !== 'e2e'), suites.filter((s) => s === 'e2e')]) {
  const files = group.flatMap((s) => find(join('test', s)))
  if (!files.length) continue
  const concurrency = group.includes('e2e') ? '1' : '2'
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], {stdio: 'inherit'})
  if (res.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
