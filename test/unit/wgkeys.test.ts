import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {generateKeyPair, generatePresharedKey, generatePrivateKey, isWgKey, publicKeyOf} from '../../src/core/wgkeys.js'

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
  it('generateKeyPair gives a clamped key and the public key publicKeyOf derives from it', () => {
    for (let i = 0; i < 200; i++) {
      const {privateKey, publicKey} = generateKeyPair()
      assert.ok(isWgKey(privateKey) && isWgKey(publicKey))
      assert.equal(Buffer.from(privateKey, 'base64')[0] & 7, 0)
      assert.equal(publicKey, publicKeyOf(privateKey))
    }
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
