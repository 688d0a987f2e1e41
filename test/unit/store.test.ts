import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {UserError} from '../../src/core/errors.js'
import {generatePrivateKey, publicKeyOf} from '../../src/core/wgkeys.js'
import {StateStore, assertPrivate, defaultOutDir, defaultStateDir, emptyState, ensurePrivateDir, stableJson, writeIfChanged} from '../../src/state/store.js'
import {tmpDir} from '../support/helpers.js'

const mode = (p: string) => statSync(p).mode & 0o777

describe('state store', () => {
  it('places state and output beside the inventory, named after it', () => {
    assert.equal(defaultStateDir('/srv/fleet/prod.yaml'), '/srv/fleet/.mesh/prod')
    assert.equal(defaultOutDir('/srv/fleet/prod.yaml'), '/srv/fleet/out/prod')
  })
  it('creates secrets 0600 in 0700 dirs, and secret() never overwrites', () => {
    const store = new StateStore(join(tmpDir(), 'state'))
    let calls = 0
    const first = store.secret(store.keyFile('Host-A'), () => `key-${++calls}`)
    assert.deepEqual(first, {value: 'key-1', created: true})
    assert.equal(mode(store.keyFile('Host-A')), 0o600)
    assert.equal(mode(store.keysDir), 0o700)
    assert.equal(mode(store.dir), 0o700)
    const again = store.secret(store.keyFile('Host-A'), () => `key-${++calls}`)
    assert.deepEqual(again, {value: 'key-1', created: false})
    assert.equal(calls, 1, 'make() is not even called when the secret exists')
    assert.equal(readFileSync(store.keyFile('Host-A'), 'utf8'), 'key-1\n')
  })
  it('secret() refuses to overwrite a file that appears between check and write', () => {
    const store = new StateStore(join(tmpDir(), 'state'))
    const path = store.keyFile('Host-B')
    assert.throws(() =>
      store.secret(path, () => {
        writeFileSync(path, 'other\n', {mode: 0o600}) // a concurrent run wins the race
        return 'mine'
      }),
    /EEXIST/)
    assert.equal(readFileSync(path, 'utf8'), 'other\n')
  })
  it('refuses group- or world-readable key files and dirs, naming the chmod that fixes it', () => {
    const store = new StateStore(join(tmpDir(), 'state'))
    store.secret(store.keyFile('Host-A'), () => 'k')
    chmodSync(store.keyFile('Host-A'), 0o640)
    assert.throws(
      () => store.readSecret(store.keyFile('Host-A')),
      (e: unknown) => e instanceof UserError && /mode 640/.test(e.message) && e.fix === `chmod 600 ${store.keyFile('Host-A')}`,
    )
    chmodSync(store.keyFile('Host-A'), 0o600)
    chmodSync(store.keysDir, 0o755)
    assert.throws(() => store.checkModes(), (e: unknown) => e instanceof UserError && e.fix === `chmod 700 ${store.keysDir}`)
    chmodSync(store.keysDir, 0o701)
    assert.throws(() => assertPrivate(store.keysDir, 'dir'), /readable by group or others \(mode 701\)/)
    chmodSync(store.keysDir, 0o700)
    store.checkModes()
    const open = join(tmpDir(), 'open')
    mkdirSync(open, {mode: 0o755})
    chmodSync(open, 0o755)
    assert.throws(() => ensurePrivateDir(open), UserError)
  })
  it('save/load round-trips state; a re-save of the same state writes nothing', () => {
    const store = new StateStore(join(tmpDir(), 'state'))
    assert.deepEqual(store.load(), emptyState())
    const [P, Q] = [publicKeyOf(generatePrivateKey()), publicKeyOf(generatePrivateKey())]
    const state = {...emptyState(), hosts: {b: {publicKey: P, ipv4: '10.0.0.2'}, a: {publicKey: Q}}}
    assert.equal(store.save(state), true)
    assert.equal(mode(store.stateFile), 0o600)
    const before = statSync(store.stateFile, {bigint: true})
    assert.equal(store.save(structuredClone(state)), false)
    const after = statSync(store.stateFile, {bigint: true})
    assert.equal(after.mtimeNs, before.mtimeNs)
    assert.equal(after.ino, before.ino, 'not replaced by a rename either')
    assert.deepEqual(store.load(), state)
  })
  it('load() explains a corrupt or foreign state file', () => {
    const store = new StateStore(join(tmpDir(), 'state'))
    ensurePrivateDir(store.dir)
    writeFileSync(store.stateFile, '{oops', {mode: 0o600})
    assert.throws(() => store.load(), (e: unknown) => e instanceof UserError && /not valid JSON/.test(e.message) && /backup/.test(e.fix!))
    writeFileSync(store.stateFile, '{"version": 7, "hosts": {}}')
    assert.throws(() => store.load(), /format version 7/)
  })
  it('writeIfChanged writes atomically with the exact mode, whatever the umask, and skips identical content', () => {
    const dir = tmpDir()
    const file = join(dir, 'f')
    const old = process.umask(0o077)
    try {
      assert.equal(writeIfChanged(file, 'a\n', 0o644), true)
      assert.equal(mode(file), 0o644)
      assert.equal(writeIfChanged(file, 'a\n', 0o644), false, 'same bytes and mode: no write')
    } finally {
      process.umask(old)
    }
    chmodSync(file, 0o666)
    assert.equal(writeIfChanged(file, 'a\n', 0o644), true, 'mode drift is repaired')
    assert.equal(mode(file), 0o644)
    assert.equal(writeIfChanged(file, Buffer.from('b\n'), 0o600), true)
    assert.equal(readFileSync(file, 'utf8'), 'b\n')
    assert.equal(mode(file), 0o600)
    assert.ok(!existsSync(`${file}.tmp-${process.pid}`), 'no temp file left behind')
  })
})

describe('stableJson', () => {
  it('sorts keys at every depth, drops undefined, keeps array order, ends with a newline', () => {
    const a = stableJson({b: 1, a: {d: [3, {z: 1, y: 2}], c: undefined}})
    assert.equal(a, '{\n  "a": {\n    "d": [\n      3,\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n')
    assert.equal(stableJson({a: {d: [3, {y: 2, z: 1}]}, b: 1}), a)
  })
})
