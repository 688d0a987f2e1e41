// Issue 16, pure and local parts of network.keys: host: which key each host runs (and what the plan says about a
// changed, vanished or rotating key), the facts lines, and an offline init/load that lists pending public keys,
// never makes or reads a private key, and refuses to drop back to local keys.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {UserError} from '../../src/core/errors.js'
import {HOST_KEY, HOST_KEY_NEXT, HostKeyInput, decideHostKey, splitHostKeyFacts} from '../../src/core/host-keys.js'
import {generatePrivateKey, publicKeyOf} from '../../src/core/wgkeys.js'
import {runInit} from '../../src/services/init.js'
import {loadMesh} from '../../src/services/mesh.js'
import {baseInventory, tmpDir, toYaml} from '../support/helpers.js'

const pub = () => publicKeyOf(generatePrivateKey())
const [A, B, C] = [pub(), pub(), pub()]
const input = (over: Partial<HostKeyInput> = {}): HostKeyInput => ({name: 'Host-B', iface: 'wg0', localKey: false, rotateRequested: false, ...over})

describe('decideHostKey', () => {
  it('a key on the host that differs from the recorded one is named and rolled out as a rotation', () => {
    const d = decideHostKey(input({recorded: A, facts: {current: B, next: null, made: false}}))
    assert.equal(d.note, "Host-B's key on the host differs from the recorded one (key file replaced or restored from an old image?): peers switch to it first, then the host")
    assert.deepEqual({publicKey: d.publicKey, committed: d.committed, pending: d.pending, rotating: d.rotating}, {publicKey: B, committed: A, pending: B, rotating: true})
  })
  it('a vanished key (made anew in the facts round trip) is named as such', () => {
    const d = decideHostKey(input({recorded: A, facts: {current: B, next: null, made: true}}))
    assert.match(d.note!, /^Host-B had no key on the host \(re-imaged\?\): a new one was made there/)
    assert.equal(d.rotating, true)
  })
  it('in a preview a missing key is reported, the recorded one kept', () => {
    const d = decideHostKey(input({recorded: A, facts: {current: null, next: null, made: false}}))
    assert.match(d.note!, /has no key on the host \(\/etc\/wireguard\/wg0\.key; re-imaged\?\): apply makes a new one/)
    assert.equal(d.publicKey, A)
    assert.equal(d.rotating, false)
  })
  it('a new host gets the collected key, no rotation; an unreached one without a key is pending', () => {
    const d = decideHostKey(input({facts: {current: C, next: null, made: true}}))
    assert.deepEqual({publicKey: d.publicKey, committed: d.committed, rotating: d.rotating}, {publicKey: C, committed: C, rotating: false})
    const p = decideHostKey(input())
    assert.equal(p.publicKey, undefined)
    assert.match(p.note!, /public key pending: `mesh apply` makes the key on the host/)
  })
  it('an unchanged key is silent', () => {
    assert.equal(decideHostKey(input({recorded: A, facts: {current: A, next: null, made: false}})).note, undefined)
  })
  it('a rotation runs the pending key file (.next) and says peers switch first', () => {
    const d = decideHostKey(input({recorded: A, rotateRequested: true, facts: {current: A, next: B, made: false}}))
    assert.deepEqual({privateKey: d.privateKey, onNext: d.onNext, rotating: d.rotating, publicKey: d.publicKey}, {privateKey: HOST_KEY_NEXT, onNext: true, rotating: true, publicKey: B})
    assert.match(d.note!, /new key made on the host \(rotation\): peers switch to it first, then the host/)
  })
  it('an interrupted rotation (pending key file left on the host) is finished by any later apply', () => {
    const d = decideHostKey(input({recorded: A, recordedPending: B, facts: {current: A, next: B, made: false}}))
    assert.deepEqual({rotating: d.rotating, onNext: d.onNext, committed: d.committed, pending: d.pending}, {rotating: true, onNext: true, committed: A, pending: B})
  })
  it('moving from local keys says the local key file is then deleted', () => {
    const d = decideHostKey(input({recorded: A, localKey: true, facts: {current: B, next: null, made: true}}))
    assert.match(d.note!, /moves to a key made on the host: .*keys\/Host-B\.key is then deleted from the state dir/)
    assert.equal(d.privateKey, HOST_KEY)
  })
  it('an invalid key file is named with the fix', () => {
    const d = decideHostKey(input({recorded: A, facts: splitHostKeyFacts('@@beam-mesh hostkey current invalid').keys}))
    assert.match(d.note!, /the key file on the host \(\/etc\/wireguard\/wg0\.key\) holds no valid WireGuard key: remove it there/)
  })
})

describe('splitHostKeyFacts', () => {
  it('takes the key lines out and leaves the rest for the facts parser', () => {
    const {keys, rest} = splitHostKeyFacts(`@@beam-mesh hostkey made\n@@beam-mesh hostkey current ${A}\n@@beam-mesh hostkey next ${B}\n@@beam-mesh hosts\nx\n@@beam-mesh end`)
    assert.deepEqual(keys, {current: A, next: B, made: true})
    assert.equal(rest, '@@beam-mesh hosts\nx\n@@beam-mesh end')
  })
})

function hostInventory(dir: string, keys = 'host'): string {
  const inv = baseInventory(3)
  inv.network.keys = keys
  const file = join(dir, 'mesh.yaml')
  writeFileSync(file, toYaml(inv))
  return file
}

describe('offline, network.keys: host', () => {
  it('init renders what it can, lists every public key as pending, makes and stores no private key', () => {
    const dir = tmpDir()
    const file = hostInventory(dir)
    const r = runInit({inventoryFile: file, stateDir: join(dir, 'state'), outDir: join(dir, 'out')})
    assert.equal(r.keys, 'host')
    assert.deepEqual(r.pendingKeys, ['Host-A', 'Host-B', 'Host-C'])
    assert.ok(r.hosts.every((h) => h.publicKey === undefined && h.ipv4))
    assert.ok(!existsSync(join(dir, 'state', 'keys')) || readdirSync(join(dir, 'state', 'keys')).length === 0)
    const conf = readFileSync(join(dir, 'out', 'Host-A', 'wg0.conf'), 'utf8')
    assert.match(conf, new RegExp(`^PrivateKey = ${HOST_KEY.replace(/[{}]/g, '\\$&')}$`, 'm'))
    assert.doesNotMatch(conf, /\[Peer\]/, 'no peer without a public key')
    const state = JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8'))
    assert.equal(state.keys, 'host')
    assert.equal(state.hosts['Host-A'].publicKey, undefined)
  })
  it('peers with a recorded key are rendered; a pending one is left out', () => {
    const dir = tmpDir()
    const file = hostInventory(dir)
    runInit({inventoryFile: file, stateDir: join(dir, 'state'), outDir: join(dir, 'out')})
    const stateFile = join(dir, 'state', 'state.json')
    const state = JSON.parse(readFileSync(stateFile, 'utf8'))
    state.hosts['Host-A'].publicKey = A
    state.hosts['Host-B'].publicKey = B
    writeFileSync(stateFile, JSON.stringify(state))
    const loaded = loadMesh({inventoryFile: file, stateDir: join(dir, 'state'), persist: false})
    assert.deepEqual(loaded.pendingHostKeys, ['Host-C'])
    assert.deepEqual(loaded.mesh.hosts.map((h) => h.publicKey), [A, B, ''])
  })
  it('a mesh whose keys live on its hosts is not silently switched back to local keys (exit 2, says why)', () => {
    const dir = tmpDir()
    runInit({inventoryFile: hostInventory(dir), stateDir: join(dir, 'state'), outDir: join(dir, 'out')})
    const local = hostInventory(dir, 'local')
    assert.throws(
      () => loadMesh({inventoryFile: local, stateDir: join(dir, 'state'), persist: false, preview: true}),
      (e: Error) => e instanceof UserError && /keeps its private keys on its hosts/.test(e.message) && /set network\.keys: host again/.test((e).fix ?? ''),
    )
    assert.ok(!existsSync(join(dir, 'state', 'keys', 'Host-A.key')), 'no local key made')
  })
})
