// state.json is checked with a schema: a damaged file exits 2 naming the field and a fix, never a raw
// TypeError, and what it holds cannot smuggle control characters into output.
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {UserError} from '../../src/core/errors.js'
import {generatePrivateKey, publicKeyOf} from '../../src/core/wgkeys.js'
import {StateStore} from '../../src/state/store.js'
import {tmpDir} from '../support/helpers.js'

const KEY = publicKeyOf(generatePrivateKey())

function storeWith(content: unknown): StateStore {
  const dir = join(tmpDir(), 'state')
  mkdirSync(dir, {mode: 0o700})
  writeFileSync(join(dir, 'state.json'), typeof content === 'string' ? content : JSON.stringify(content), {mode: 0o600})
  return new StateStore(dir)
}

function loadError(content: unknown): UserError {
  try {
    storeWith(content).load()
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${(e as Error)?.stack}`)
    assert.equal(e.exitCode, 2)
    assert.ok(e.fix && /restore|version/.test(e.fix), 'the fix says what to do')
    return e
  }
  assert.fail('state.json was accepted')
}

describe('state.json schema', () => {
  it('null, an array, wrong types and unknown versions are refused with the field named', () => {
    assert.match(loadError({version: 2, hosts: {}}).message, /format version 2/)
    assert.match(loadError('null').message, /not a valid mesh state/)
    assert.match(loadError([]).message, /not a valid mesh state/)
    assert.match(loadError({version: 1, hosts: {}, archived: 'Host-A'}).message, /archived: /)
    assert.match(loadError({version: 1, hosts: {'Host-A': {publicKey: 42}}}).message, /hosts\.Host-A\.publicKey/)
    assert.match(loadError({version: 1, hosts: {'Host-A': {publicKey: KEY, ipv4: 'fd00::1'}}}).message, /hosts\.Host-A\.ipv4: must be an IPv4 address/)
    assert.match(loadError({version: 1, hosts: {}, archived: [{name: 'Host-B', publicKey: KEY, teardownPending: 'yes'}]}).message, /archived\[0\]\.teardownPending/)
  })

  it('a host name holding an escape sequence is refused, and the message shows it escaped', () => {
    const e = loadError({version: 1, hosts: {'\u001b[31mHost-A': {publicKey: KEY}}, archived: []})
    assert.doesNotMatch(e.message, /\u001b/)
    assert.match(e.message, /\\e\[31mHost-A/)
  })

  it('a valid file loads; one without archived (older format) gets an empty list', () => {
    const state = storeWith({version: 1, hosts: {'Host-A': {publicKey: KEY, ipv4: '10.77.0.1', ipv6: 'fd77:77::1', endpoint: '198.18.0.10', ssh: {user: 'root', host: '198.18.0.10', port: 22}}}}).load()
    assert.deepEqual(state.archived, [])
    assert.equal(state.hosts['Host-A'].ipv4, '10.77.0.1')
  })
})
