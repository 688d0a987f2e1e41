import assert from 'node:assert/strict'
import {createHook} from 'node:async_hooks'
import {createPrivateKey, createPublicKey, generateKeyPairSync} from 'node:crypto'
import {describe, it} from 'node:test'

import {generateKeyPair, generatePresharedKey, generatePrivateKey, isWgKey, publicKeyOf} from '../../src/core/wgkeys.js'

// RFC 8410's PKCS#8 wrapper of a raw X25519 private key: OpenSSL's own decoder, beside the JWK import wgkeys uses.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

describe('wgkeys', () => {
  it('generated private keys are clamped, unique and well-formed', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const k = generatePrivateKey()
      assert.ok(isWgKey(k), k.length.toString())
      const raw = Buffer.from(k, 'base64')
      assert.equal(raw[0] & 7, 0, 'low 3 bits of byte 0 are cleared')
      assert.equal(raw[31] & 128, 0, 'top bit of byte 31 is cleared')
      assert.equal(raw[31] & 64, 64, 'bit 254 is set')
      seen.add(k)
    }
    assert.equal(seen.size, 200)
  })
  it('generateKeyPair gives a clamped key and its public key, as OpenSSL derives it from PKCS#8 (not the JWK path)', () => {
    for (let i = 0; i < 200; i++) {
      const {privateKey, publicKey} = generateKeyPair()
      assert.ok(isWgKey(privateKey) && isWgKey(publicKey))
      assert.equal(Buffer.from(privateKey, 'base64')[0] & 7, 0)
      const der = createPrivateKey({key: Buffer.concat([PKCS8_X25519_PREFIX, Buffer.from(privateKey, 'base64')]), format: 'der', type: 'pkcs8'})
      assert.equal(publicKey, createPublicKey(der).export({format: 'der', type: 'spki'}).subarray(-32).toString('base64'))
    }
  })
  // A key-generation job's finalizer takes the key's mutex; a JWK export of that key holds it while it allocates, so
  // a garbage collection there hangs the process for good (seen: a 5000-host init). No job, no such finalizer.
  it('generateKeyPair starts no key-generation job (whose finalizer can deadlock a JWK export)', () => {
    const types: string[] = []
    const hook = createHook({init: (_id, type) => void types.push(type)}).enable()
    try {
      generateKeyPairSync('x25519')
      assert.ok(types.includes('KEYPAIRGENREQUEST'), `the hook sees a job: ${types.join(', ')}`)
      types.length = 0
      for (let i = 0; i < 20; i++) generateKeyPair()
    } finally {
      hook.disable()
    }
    assert.deepEqual(types.filter((t) => /KEYGEN|KEYPAIRGEN/.test(t)), [])
  })
  it('isWgKey accepts exactly 32 bytes of standard base64', () => {
    assert.ok(isWgKey(Buffer.alloc(32, 1).toString('base64')))
    assert.ok(isWgKey(generatePresharedKey()))
    assert.ok(!isWgKey(Buffer.alloc(31).toString('base64')))
    assert.ok(!isWgKey(Buffer.alloc(33).toString('base64')))
    assert.ok(!isWgKey(Buffer.alloc(32, 0xfb).toString('base64url') + '='), 'base64url alphabet')
    assert.ok(!isWgKey(Buffer.alloc(32).toString('base64').slice(0, 43)), 'missing padding')
    assert.ok(!isWgKey('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB='), 'non-canonical last character')
    assert.ok(!isWgKey(` ${Buffer.alloc(32).toString('base64')}`))
    assert.ok(!isWgKey(''))
  })
  it('publicKeyOf refuses malformed keys without echoing them', () => {
    assert.throws(() => publicKeyOf('c2VjcmV0'), (e: Error) => /not a WireGuard private key/.test(e.message) && !e.message.includes('c2VjcmV0'))
  })
})
