// The one-round-trip batch (remote/batch.ts), run for real with the local shell against files in a temp dir:
// every write gets exactly its own bytes, steps run in order, and a failing step stops the batch and is named.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {BatchOp} from '../../src/remote/batch.js'
import {RemoteHost} from '../../src/remote/hostops.js'
import type {RunOptions} from '../../src/remote/transport.js'
import {LocalTransport} from '../support/local-transport.js'
import {tmpDir} from '../support/helpers.js'

// An interface that does not exist here: the verify step reports it down.
const host = new RemoteHost(new LocalTransport('local'), 'bmtest0')
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

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

  it('a write whose bytes do not match its size fails that step and installs nothing', async () => {
    const dir = tmpDir()
    // A size the content does not have: WRITE_SCRIPT's short-write check refuses it (as for a cut connection).
    const ops: BatchOp[] = [{kind: 'write', path: join(dir, 'f'), content: 'abc', mode: 0o644}]
    /** Loses the last byte of stdin on the way, as a connection cut midway would. */
    class CutTransport extends LocalTransport {
      override run(argv: readonly string[], o: RunOptions = {}) {
        const bytes = Buffer.from(o.stdin ?? '')
        return super.run(argv, {...o, stdin: bytes.subarray(0, bytes.length - 1)})
      }
    }
    const r = await new RemoteHost(new CutTransport('local'), 'bmtest0').batch(ops)
    assert.equal(r.outcome.done, false)
    assert.equal(r.outcome.started, 0)
    assert.match(r.stderr, /short write|connection ended/)
    assert.ok(!existsSync(join(dir, 'f')))
  })
})
