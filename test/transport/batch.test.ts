// The one-round-trip batch (remote/batch.ts), run for real with the local shell against files in a temp dir:
// every write gets exactly its own bytes, steps run in order, and a failing step stops the batch and is named.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {userInfo} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {BatchOp, MKFILE_FUNCTION, parseBatch} from '../../src/remote/batch.js'
import {RemoteHost} from '../../src/remote/hostops.js'
import type {RunOptions} from '../../src/remote/transport.js'
import {LocalTransport} from '../support/local-transport.js'
import {tmpDir} from '../support/helpers.js'

// An interface that does not exist here: the verify step reports it down.
const host = new RemoteHost(new LocalTransport('local'), 'bmtest0')
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/**
 * A folder `files` and a local host whose mv refuses any move onto files/hosts with `mv: cannot move: <error>`, as
 * the kernel does for a bind-mounted target (EBUSY); other moves go to the real mv. Like GNU mv under a German
 * locale (the host's LANG), it says `localized` instead unless LC_ALL=C.
 */
function refusingMv(name: string, error: string, localized: string): {files: string; host: RemoteHost} {
  const dir = tmpDir()
  const files = join(dir, 'files')
  mkdirSync(files)
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  const realMv = execFileSync('sh', ['-c', 'command -v mv'], {encoding: 'utf8'}).trim()
  const say = `if [ "\${LC_ALL:-}" = C ]; then echo "mv: cannot move: ${error}" >&2; else echo "mv: ${localized}" >&2; fi`
  writeFileSync(join(bin, 'mv'), `#!/bin/sh\ncase "$*" in *' ${join(files, 'hosts')}') ${say}; exit 1 ;; esac\nexec ${realMv} "$@"\n`, {mode: 0o755})
  return {files, host: new RemoteHost(new LocalTransport(name, ['env', '-u', 'LC_ALL', 'LANG=de_DE.UTF-8', `PATH=${bin}:${process.env.PATH}`]), 'bmtest0')}
}

describe('RemoteHost.batch', () => {
  it('writes every file with its own bytes and mode, removes, runs, and reports each step', async () => {
    const dir = tmpDir()
    const odd = Buffer.from([0x31, 0x20, 0xe9, 0xff, 0x0d, 0x0a, 0x00, 0x41])
    writeFileSync(join(dir, 'old'), 'x')
    const ops: BatchOp[] = [
      {kind: 'write', path: join(dir, 'a', 'wg0.conf'), content: 'PrivateKey = x\n', mode: 0o600},
      {kind: 'write', path: join(dir, 'empty'), content: '', mode: 0o644},
      {kind: 'write', path: join(dir, 'odd'), content: odd.toString('latin1'), mode: 0o640},
      {kind: 'remove', path: join(dir, 'old')},
      {kind: 'run', argv: ['touch', join(dir, 'ran it')]},
      {kind: 'verify'},
    ]
    const r = await host.batch(ops)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.outcome.done, true)
    assert.equal(r.outcome.started, ops.length - 1)
    assert.equal(readFileSync(join(dir, 'a', 'wg0.conf'), 'utf8'), 'PrivateKey = x\n')
    assert.equal(statSync(join(dir, 'a', 'wg0.conf')).mode & 0o777, 0o600)
    assert.equal(readFileSync(join(dir, 'empty'), 'utf8'), '')
    assert.equal(statSync(join(dir, 'empty')).mode & 0o777, 0o644)
    assert.deepEqual(readFileSync(join(dir, 'odd')), odd)
    assert.equal(statSync(join(dir, 'odd')).mode & 0o777, 0o640)
    assert.ok(!existsSync(join(dir, 'old')))
    assert.ok(existsSync(join(dir, 'ran it')), 'a run step keeps its argument as one word')
    assert.deepEqual([...r.outcome.wrote.keys()], [0, 1, 2])
    for (const i of [0, 1, 2]) {
      assert.equal(r.outcome.wrote.get(i)!.how, 'renamed')
      assert.equal(r.outcome.wrote.get(i)!.sha, r.want.get(i))
    }
    assert.equal(r.want.get(2), sha(odd))
    assert.equal(r.outcome.peers, null, 'bmtest0 is not running: verify says so')
  })

  it('stops at the first failing step and names it; later steps never run', async () => {
    const dir = tmpDir()
    const ops: BatchOp[] = [
      {kind: 'write', path: join(dir, 'first'), content: 'one\n', mode: 0o644},
      {kind: 'run', argv: ['sh', '-c', 'echo refused >&2; exit 3']},
      {kind: 'write', path: join(dir, 'second'), content: 'two\n', mode: 0o644},
      {kind: 'verify'},
    ]
    const r = await host.batch(ops)
    assert.notEqual(r.code, 0)
    assert.equal(r.outcome.done, false)
    assert.equal(r.outcome.started, 1)
    assert.match(r.stderr, /refused/)
    assert.equal(readFileSync(join(dir, 'first'), 'utf8'), 'one\n')
    assert.ok(!existsSync(join(dir, 'second')))
    assert.equal(r.outcome.peers, undefined)
  })

  it('stdin cut short: no step starts and nothing is written, not even the writes whose bytes did arrive', async () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'first'), 'old\n')
    const ops: BatchOp[] = [
      {kind: 'write', path: join(dir, 'first'), content: 'one\n', mode: 0o644},
      {kind: 'write', path: join(dir, 'second'), content: 'two\n', mode: 0o644},
    ]
    /** Loses the last byte of stdin on the way, as a connection cut midway would. */
    class CutTransport extends LocalTransport {
      override run(argv: readonly string[], o: RunOptions = {}) {
        const bytes = Buffer.from(o.stdin ?? '')
        return super.run(argv, {...o, stdin: bytes.subarray(0, bytes.length - 1)})
      }
    }
    const r = await new RemoteHost(new CutTransport('local'), 'bmtest0').batch(ops)
    assert.equal(r.outcome.done, false)
    assert.equal(r.outcome.started, null)
    assert.match(r.stderr, /short write: the connection ended before all of the files arrived; nothing was written/)
    assert.equal(readFileSync(join(dir, 'first'), 'utf8'), 'old\n')
    assert.deepEqual(readdirSync(dir), ['first'])
  })

  it('stdin of the right size but other bytes: refused before any step', async () => {
    const dir = tmpDir()
    class FlipTransport extends LocalTransport {
      override run(argv: readonly string[], o: RunOptions = {}) {
        const bytes = Buffer.from(o.stdin ?? '')
        bytes[0] ^= 1
        return super.run(argv, {...o, stdin: bytes})
      }
    }
    const r = await new RemoteHost(new FlipTransport('local'), 'bmtest0').batch([{kind: 'write', path: join(dir, 'f'), content: 'abc', mode: 0o644}])
    assert.equal(r.outcome.started, null)
    assert.match(r.stderr, /arrived damaged \(sha256 differs\); nothing was written/)
    assert.deepEqual(readdirSync(dir), [])
  })

  it('writes that are not the plain case: a new folder (made 0700), a symlink and an owner (the whole write script)', async () => {
    const dir = tmpDir()
    const real = join(dir, 'real.conf')
    writeFileSync(real, 'old\n')
    symlinkSync(real, join(dir, 'link.conf'))
    const me = userInfo().username
    const ops: BatchOp[] = [
      {kind: 'write', path: join(dir, 'new', 'deeper', 'a'), content: 'in a new folder\n', mode: 0o640},
      {kind: 'write', path: join(dir, 'link.conf'), content: 'through the link\n', mode: 0o600},
      {kind: 'write', path: join(dir, 'owned'), content: 'owned\n', mode: 0o644, owner: me},
      {kind: 'write', path: join(dir, 'plain'), content: 'plain\n', mode: 0o644},
    ]
    const r = await host.batch(ops)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(join(dir, 'new', 'deeper', 'a'), 'utf8'), 'in a new folder\n')
    assert.equal(statSync(join(dir, 'new', 'deeper', 'a')).mode & 0o777, 0o640)
    for (const d of ['new', join('new', 'deeper')]) assert.equal(statSync(join(dir, d)).mode & 0o777, 0o700, d)
    assert.ok(lstatSync(join(dir, 'link.conf')).isSymbolicLink(), 'the link stays a link')
    assert.equal(readFileSync(real, 'utf8'), 'through the link\n')
    assert.equal(readFileSync(join(dir, 'owned'), 'utf8'), 'owned\n')
    assert.equal(statSync(join(dir, 'owned')).uid, process.getuid!())
    assert.equal(readFileSync(join(dir, 'plain'), 'utf8'), 'plain\n')
    for (const i of [0, 1, 2, 3]) assert.deepEqual(r.outcome.wrote.get(i), {how: 'renamed', sha: r.want.get(i)}, `step ${i}`)
    assert.deepEqual(readdirSync(dir).sort(), ['link.conf', 'new', 'owned', 'plain', 'real.conf'], 'no temp file left')
  })

  it('a folder where the file should be: refused with the fix, nothing moved into it', async () => {
    const dir = tmpDir()
    mkdirSync(join(dir, 'target'))
    writeFileSync(join(dir, 'target', 'x'), '')
    const r = await host.batch([{kind: 'write', path: join(dir, 'target'), content: 'data\n', mode: 0o644}])
    assert.equal(r.outcome.done, false)
    assert.equal(r.outcome.started, 0)
    assert.match(r.stderr, /target is a folder, not a file: move it away, then re-run/)
    assert.deepEqual(readdirSync(join(dir, 'target')), ['x'])
    assert.deepEqual(readdirSync(dir), ['target'], 'no .mesh-* temp file beside it')
  })

  it('a rename refused as busy (a bind-mounted file) is written in place by the whole script; no temp file stays', async () => {
    // mv refuses any move onto `hosts` as the kernel does for a bind-mounted target, in German unless LC_ALL=C.
    const {files, host: busyHost} = refusingMv('busy', 'Device or resource busy', 'Das Gerät oder die Ressource ist belegt')
    // 0600 before: the in-place write must leave it with the mode asked for.
    writeFileSync(join(files, 'hosts'), '127.0.0.1 localhost\n', {mode: 0o600})
    const hostsContent = '127.0.0.1 localhost\n# BEGIN beam-mesh wg0\n10.0.0.1 a\n# END beam-mesh wg0\n'
    const r = await busyHost.batch([
      {kind: 'write', path: join(files, 'hosts'), content: hostsContent, mode: 0o644},
      {kind: 'write', path: join(files, 'env.sh'), content: 'export A=1\n', mode: 0o644},
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.outcome.wrote.get(0), {how: 'inplace', sha: r.want.get(0)})
    assert.deepEqual(r.outcome.wrote.get(1), {how: 'renamed', sha: r.want.get(1)})
    assert.equal(readFileSync(join(files, 'hosts'), 'utf8'), hostsContent)
    assert.equal(readFileSync(join(files, 'env.sh'), 'utf8'), 'export A=1\n')
    assert.equal(statSync(join(files, 'hosts')).mode & 0o777, 0o644)
    assert.deepEqual(readdirSync(files).sort(), ['env.sh', 'hosts'], 'no temp file, backup or journal left')
  })

  it('a rename refused for another reason fails the step with mv\'s error: the target is untouched, no temp file stays', async () => {
    const {files, host} = refusingMv('eperm', 'Operation not permitted', 'Die Operation ist nicht erlaubt')
    writeFileSync(join(files, 'hosts'), '127.0.0.1 localhost\n')
    const r = await host.batch([
      {kind: 'write', path: join(files, 'hosts'), content: '10.0.0.1 a\n', mode: 0o644},
      {kind: 'up'},
    ])
    assert.notEqual(r.code, 0)
    assert.equal(r.outcome.started, 0, 'the write failed, so the step after it never started')
    assert.match(r.stderr, /Operation not permitted/)
    assert.equal(readFileSync(join(files, 'hosts'), 'utf8'), '127.0.0.1 localhost\n')
    assert.deepEqual(readdirSync(files), ['hosts'], 'no temp file left')
  })

  it('the short path makes its temp file in the shell: never over anything already there, with mode 600 or 644', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'taken'), 'somebody else\n')
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'))
    const script = `umask 077\n${MKFILE_FUNCTION}\ncd "$1"
for f in new600:600 new644:644 taken:600 dangling:600 missing/dir:600; do
  if mkfile "\${f%:*}" "\${f#*:}"; then echo "made \${f%:*}"; else echo "refused \${f%:*}"; fi
done
umask; case $- in *C*) echo noclobber left on ;; esac`
    const out = execFileSync('sh', ['-c', script, 'sh', dir], {encoding: 'utf8'})
    assert.deepEqual(out.trim().split('\n'), ['made new600', 'made new644', 'refused taken', 'refused dangling', 'refused missing/dir', '0077'])
    assert.equal(statSync(join(dir, 'new600')).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'new644')).mode & 0o777, 0o644)
    assert.equal(readFileSync(join(dir, 'taken'), 'utf8'), 'somebody else\n', 'an existing file is not truncated')
    assert.ok(lstatSync(join(dir, 'dangling')).isSymbolicLink() && !existsSync(join(dir, 'nowhere')), 'nothing made through the symlink')
  })

  it('the sums of renamed files come from one sha256sum at the end; a path with quotes, $ and backquotes is only data', async () => {
    const dir = tmpDir()
    const odd = join(dir, 'we ird "q" \'s\' $(touch pwned) `touch pwned2` $HOME;.conf')
    const ops: BatchOp[] = [
      {kind: 'write', path: join(dir, 'one'), content: 'one\n', mode: 0o644},
      {kind: 'write', path: odd, content: 'odd\n', mode: 0o600},
      {kind: 'write', path: join(dir, 'back\\slash'), content: 'escaped by sha256sum\n', mode: 0o644},
    ]
    const r = await host.batch(ops)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(odd, 'utf8'), 'odd\n')
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('pwned')), [], 'nothing in the path ran')
    for (const i of [0, 1, 2]) assert.deepEqual(r.outcome.wrote.get(i), {how: 'renamed', sha: r.want.get(i)}, `step ${i}`)
  })

  it('a renamed file with no sum line (sha256sum could not read it): no sum is told apart, none counts as reported', () => {
    const sum = (c: string) => c.repeat(64)
    const out = ['@@beam-mesh step 0', '@@beam-mesh step 1', '@@beam-mesh renamed 0 1', `${sum('a')}  /etc/one`, '@@beam-mesh end', '@@beam-mesh done', ''].join('\n')
    const r = parseBatch(out)
    assert.equal(r.done, true)
    assert.deepEqual([...r.wrote], [[0, {how: 'renamed', sha: ''}], [1, {how: 'renamed', sha: ''}]])
    const whole = parseBatch(out.replace('@@beam-mesh end', `${sum('b')}  /etc/two\n@@beam-mesh end`))
    assert.deepEqual([...whole.wrote], [[0, {how: 'renamed', sha: sum('a')}], [1, {how: 'renamed', sha: sum('b')}]])
  })
})
