// Apply progress: plain `[host] message` lines, the listr2 board, and that neither ever writes to stdout.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {applyProgress, hostBoard, stderrProgress} from '../../src/ui/progress.js'
import {tmpDir} from '../support/helpers.js'
import {skipUnless} from '../support/prereq.js'

const ROOT = new URL('../../', import.meta.url).pathname
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

describe('plain progress', () => {
  it('writes one padded [host] line per event', async () => {
    const out: string[] = []
    const p = stderrProgress(true, (s) => out.push(s))
    p.step('Host-A', 'connecting')
    p.step('Host-Long-Name', 'gathering facts')
    p.step('Host-A', 'done')
    await p.settle()
    assert.deepEqual(out, ['[Host-A  ] connecting\n', '[Host-Long-Name] gathering facts\n', '[Host-A        ] done\n'])
  })

  it('writes nothing when disabled (--json)', () => {
    const out: string[] = []
    stderrProgress(false, (s) => out.push(s)).step('Host-A', 'connecting')
    assert.deepEqual(out, [])
  })

  it('is what applyProgress picks when the stream is not a terminal; nothing under --json', async () => {
    const out: string[] = []
    const stream = {isTTY: false, write: (s: string) => out.push(s) > 0} as unknown as NodeJS.WriteStream
    applyProgress(false, stream).step('Host-A', 'connecting')
    applyProgress(true, stream).step('Host-A', 'connecting')
    assert.deepEqual(out, ['[Host-A  ] connecting\n'])
  })
})

describe('listr2 board', () => {
  it('shows the last message of each host, in first-seen order', () => {
    const board = hostBoard(new Map([['Host-A', 'writing /etc/hosts'], ['Host-Long-Name', 'up to date']]))
    assert.equal(board, 'Host-A          writing /etc/hosts\nHost-Long-Name  up to date')
  })

  // A child process, so what reaches the real fd 1 and fd 2 is what gets checked.
  const script = (file: string, tty: boolean) =>
    writeFileSync(
      file,
      `import {applyProgress, listrProgress} from ${JSON.stringify(join(ROOT, 'src/ui/progress.ts'))}
const p = ${tty ? 'applyProgress(false)' : 'listrProgress(process.stderr)'}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
p.step('Host-A', 'connecting'); p.step('Host-B', 'connecting'); await sleep(250)
p.step('Host-A', 'changes planned'); p.step('Host-B', 'up to date')
await p.settle()
process.stdout.write('PLAN\\n')
p.step('Host-A', 'writing /etc/hosts'); await sleep(250); p.step('Host-A', 'done')
await p.settle()
process.stdout.write('RESULT\\n')
`,
    )

  it('draws on stderr and writes nothing to stdout (stdout and stderr pipes)', () => {
    const file = join(tmpDir(), 'board.mts')
    script(file, false)
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {cwd: ROOT, encoding: 'utf8', timeout: 30_000})
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'PLAN\nRESULT\n')
    assert.match(r.stderr, /Connecting and gathering facts: 2 host\(s\)/)
    assert.match(r.stderr, /Host-A {4}changes planned\n.*Host-B {4}up to date/)
    assert.match(r.stderr, /Applying: 1 host\(s\)\n.*Host-A {4}done/)
  })

  it('on a terminal (pseudo-TTY via script(1)) the board is picked and stdout stays clean', {skip: skipUnless(have('script'), 'needs script(1) (bsdutils)')}, () => {
    const dir = tmpDir()
    const file = join(dir, 'board.mts')
    const stdout = join(dir, 'stdout')
    script(file, true)
    // script(1) gives the child a pseudo-TTY; its stdout goes to a file, as with `mesh apply … > file`.
    const cmd = `stty rows 40 cols 120; ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(file)} > ${JSON.stringify(stdout)}`
    const r = spawnSync('script', ['-qec', cmd, join(dir, 'typescript')], {cwd: ROOT, encoding: 'utf8', timeout: 30_000})
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(readFileSync(stdout, 'utf8'), 'PLAN\nRESULT\n')
    assert.match(r.stdout, /\u001b\[\d*A/, 'redrawn in place (cursor moved up): the listr2 board, not plain lines')
    assert.match(r.stdout, /Host-A {4}done/)
    assert.doesNotMatch(r.stdout, /\[Host-A/, 'no plain lines')
  })
})
