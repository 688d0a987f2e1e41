// `npm run bench`: every bench/*.ts in sequence (one at a time, so they do not skew each other's figures),
// each through `node --import tsx`. Exits non-zero if one failed.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

const benches = readdirSync('bench').filter((f) => f.endsWith('.ts')).sort()
let failed = false
for (const b of benches) {
  console.log(`\n== bench/${b}`)
  const res = spawnSync(process.execPath, ['--import', 'tsx', join('bench', b)], {stdio: 'inherit'})
  if (res.status !== 0) {
    console.error(`bench/${b} exited ${res.status ?? res.signal}`)
    failed = true
  }
}
process.exit(failed ? 1 : 0)
