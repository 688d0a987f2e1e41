// Trust only files we own: secrets and their folders must be ours (or root's), private, and the thing
// itself (not a link); files we read (inventory, state, keys, known_hosts) must be regular files, read
// with a bound. A FIFO, a device or a directory exits 2 naming the path, instead of hanging or EISDIR.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chownSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {UserError} from '../../src/core/errors.js'
import {generatePrivateKey} from '../../src/core/wgkeys.js'
import {loadKnownHosts} from '../../src/remote/host-keys.js'
import {StateStore} from '../../src/state/store.js'
import {tmpDir} from '../support/helpers.js'
import {skipUnless} from '../support/prereq.js'

const asRoot = process.getuid?.() === 0
const NOBODY = 65534

const mkfifo = (path: string) => assert.equal(spawnSync('mkfifo', [path]).status, 0, 'mkfifo')

function freshStore(): StateStore {
  const store = new StateStore(join(tmpDir(), 'state'))
  store.secret(store.keyFile('Host-A'), generatePrivateKey)
  return store
}

describe('secrets must be ours, private and the file itself', () => {
  it('a state dir owned by another user is refused, even with mode 0700', {skip: skipUnless(asRoot, 'needs root to chown')}, () => {
    const store = freshStore()
    chownSync(store.dir, NOBODY, NOBODY)
    assert.throws(() => store.checkModes(), (e: unknown) => e instanceof UserError && /owned by uid 65534/.test(e.message) && e.exitCode === 2)
  })

  it('a key planted by another user (0600, theirs) is refused, not deployed', {skip: skipUnless(asRoot, 'needs root to chown')}, () => {
    const store = freshStore()
    chownSync(store.keyFile('Host-A'), NOBODY, NOBODY)
    assert.throws(() => store.readSecret(store.keyFile('Host-A')), /owned by uid 65534/)
  })

  it('a symlinked key is refused, and the hint never suggests a chmod (which would act on the target)', () => {
    const store = freshStore()
    const elsewhere = join(tmpDir(), 'target.key')
    writeFileSync(elsewhere, `${generatePrivateKey()}\n`, {mode: 0o644})
    symlinkSync(elsewhere, store.keyFile('Host-B'))
    assert.throws(
      () => store.readSecret(store.keyFile('Host-B')),
      (e: unknown) => e instanceof UserError && /symbolic link/.test(e.message) && !/chmod/.test(e.fix ?? '') && /rm .*Host-B\.key/.test(e.fix ?? ''),
    )
    // A link to nothing is still an entry: refused the same way, not taken for a missing key (which would be made).
    symlinkSync(join(tmpDir(), 'nothing-here.key'), store.keyFile('Host-C'))
    assert.throws(() => store.readSecret(store.keyFile('Host-C')), (e: unknown) => e instanceof UserError && /symbolic link/.test(e.message))
    assert.equal(store.readSecret(store.keyFile('Host-D')), null, 'a key that is not there reads as missing')
    const linkedDir = join(tmpDir(), 'linked-state')
    symlinkSync(store.dir, linkedDir)
    assert.throws(() => new StateStore(linkedDir).checkModes(), (e: unknown) => e instanceof UserError && /symbolic link/.test(e.message) && !/chmod/.test(e.fix ?? ''))
  })

  it('a known_hosts file that is a FIFO is refused at once, naming it', async () => {
    const fifo = join(tmpDir(), 'known_hosts')
    mkfifo(fifo)
    await assert.rejects(loadKnownHosts([fifo]), (e: unknown) => e instanceof UserError && e.message.includes(fifo) && /FIFO/.test(e.message))
  })
})
