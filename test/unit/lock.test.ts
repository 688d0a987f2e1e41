import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {UserError} from '../../src/core/errors.js'
import {acquireLock} from '../../src/state/lock.js'
import {tmpDir} from '../support/helpers.js'

describe('acquireLock', () => {
  it('holds the lock file while taken and removes it on release', () => {
    const dir = tmpDir()
    const lock = acquireLock(dir, 'apply')
    const owner = JSON.parse(readFileSync(join(dir, 'apply.lock'), 'utf8'))
    assert.equal(owner.pid, process.pid)
    assert.equal(owner.what, 'apply')
    lock.release()
    lock.release()
    assert.equal(existsSync(join(dir, 'apply.lock')), false)
  })

  it('nests in one process (rotate-keys holds it, then its apply takes it again) and frees it after the outer release', () => {
    const dir = tmpDir()
    const outer = acquireLock(dir, 'rotate-keys')
    const inner = acquireLock(dir, 'apply')
    inner.release()
    assert.equal(existsSync(join(dir, 'apply.lock')), true, 'still held by the outer command')
    outer.release()
    assert.equal(existsSync(join(dir, 'apply.lock')), false)
  })

  it('refuses a lock held by another live process, naming it', () => {
    const dir = tmpDir()
    // The parent of this process is alive for as long as the test runs.
    writeFileSync(join(dir, 'apply.lock'), JSON.stringify({pid: process.ppid, host: hostname(), what: 'apply'}))
    assert.throws(() => acquireLock(dir, 'apply'), (e: unknown) => e instanceof UserError && /another mesh apply holds the lock .*pid \d+/.test((e as Error).message))
  })

  it('takes over a lock left by a crashed process on this machine', () => {
    const dir = tmpDir()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout
    writeFileSync(join(dir, 'apply.lock'), JSON.stringify({pid: Number(dead), host: hostname(), what: 'apply'}))
    const lock = acquireLock(dir, 'apply')
    assert.equal(JSON.parse(readFileSync(join(dir, 'apply.lock'), 'utf8')).pid, process.pid)
    lock.release()
  })
})
