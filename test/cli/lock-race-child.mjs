// A child of lock-race.test.ts: waits for the go file (so every child starts together), tries once to take over
// the stale lock, says how it went, and holds what it got until its stdin closes (a winner that let go early
// would let a second one win fairly). A file, not `node -e`: a child started with --input-type=module -e under
// tsx once hung idle at start-up on this machine. Args: the go file, the state dir.
import {existsSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'

import {acquireLock} from '../../src/state/lock.ts'

const [go, dir] = process.argv.slice(-2)
process.stdout.write('ready\n')
const until = Date.now() + 120_000
while (!existsSync(go) && Date.now() < until) await sleep(2)
let got = 'lost'
try {
  acquireLock(dir, 'apply')
  got = 'won'
} catch {
  // another child won: 'lost'
}
process.stdout.write(`${got}\n`)
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
