// Our X25519 public keys against the real `wg pubkey` (wireguard-tools), keys always on stdin.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'

import {generateKeyPair, generatePrivateKey, publicKeyOf} from '../../src/core/wgkeys.js'
import {skipUnless} from '../support/prereq.js'

/** Runs `wg <sub>` with the key on stdin (never in argv). */
function wg(sub: string, input?: string): string {
  const res = spawnSync('wg', [sub], {input, encoding: 'utf8'})
  if (res.status !== 0) throw new Error(`wg ${sub} exited ${res.status}: ${res.stderr}`)
  return res.stdout.trim()
}
const wgMissing = skipUnless(!spawnSync('wg', ['--version']).error, 'the `wg` binary (wireguard-tools) is not installed: cannot compare with it')

describe('wgkeys against wg', () => {
  it('publicKeyOf matches `wg pubkey` for keys from `wg genkey`', {skip: wgMissing}, () => {
    for (let i = 0; i < 50; i++) {
      const priv = wg('genkey')
      assert.equal(publicKeyOf(priv), wg('pubkey', `${priv}\n`))
    }
  })
  it('publicKeyOf matches `wg pubkey` for our own keys and for unclamped random bytes', {skip: wgMissing}, () => {
    for (let i = 0; i < 50; i++) {
      const ours = generatePrivateKey()
      assert.equal(publicKeyOf(ours), wg('pubkey', `${ours}\n`))
      const raw = randomBytes(32)
      raw[0] |= 7 // deliberately unclamped: both sides clamp internally
      raw[31] |= 128
      const b64 = raw.toString('base64')
      assert.equal(publicKeyOf(b64), wg('pubkey', `${b64}\n`))
    }
  })
  it('the public key generateKeyPair gives with a new key is the one `wg pubkey` derives from it', {skip: wgMissing}, () => {
    for (let i = 0; i < 50; i++) {
      const {privateKey, publicKey} = generateKeyPair()
      assert.equal(publicKey, wg('pubkey', `${privateKey}\n`))
    }
  })
})
