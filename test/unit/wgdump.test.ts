import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {endpointHost, handshakeAge, parseWgDump} from '../../src/core/wgdump.js'
import {generateKeyPair} from '../../src/core/wgkeys.js'

/** Real X25519 keys in wg's format (standard base64 of the raw 32 bytes). */
function keyPair() {
  const {privateKey, publicKey} = generateKeyPair()
  return {priv: privateKey, pub: publicKey}
}

const me = keyPair()
const b = keyPair()
const c = keyPair()
const psk = keyPair().priv
// The format of `wg show wg0 dump` (wireguard-tools show.c): tab-separated, interface line first.
const DUMP = [
  [me.priv, me.pub, '51820', 'off'],
  [b.pub, '(none)', '198.18.0.12:51820', '10.77.0.2/32,fd77:77::2/128', '1700000000', '123456', '654321', '25'],
  [c.pub, psk, '(none)', '10.77.0.3/32', '0', '0', '0', 'off'],
].map((l) => l.join('\t')).join('\n') + '\n'

describe('wg show dump', () => {
  it('parses the interface and peers', () => {
    const r = parseWgDump(DUMP)
    assert.ok(r.ok, JSON.stringify(r))
    assert.deepEqual(r.value.interface, {publicKey: me.pub, listenPort: 51820, fwmark: null})
    assert.deepEqual(r.value.peers[0], {
      publicKey: b.pub, presharedKey: false, endpoint: '198.18.0.12:51820', allowedIps: ['10.77.0.2/32', 'fd77:77::2/128'],
      latestHandshake: 1700000000, rxBytes: 123456, txBytes: 654321, keepalive: 25,
    })
    assert.deepEqual(r.value.peers[1], {
      publicKey: c.pub, presharedKey: true, endpoint: null, allowedIps: ['10.77.0.3/32'],
      latestHandshake: 0, rxBytes: 0, txBytes: 0, keepalive: null,
    })
  })
  it('never keeps the private key or the preshared key', () => {
    const text = JSON.stringify(parseWgDump(DUMP))
    assert.ok(!text.includes(me.priv))
    assert.ok(!text.includes(psk))
  })
  it('does not quote the private key in errors either', () => {
    const broken = `${me.priv}\t${me.pub}\tnotaport\toff\n`
    const r = parseWgDump(broken)
    assert.equal(r.ok, false)
    assert.ok(!JSON.stringify(r).includes(me.priv))
    const r2 = parseWgDump(`${me.priv}\t${me.pub}\n`)
    assert.ok(!r2.ok && !JSON.stringify(r2).includes(me.priv))
  })
  it('reads a hex fwmark and an interface without keys', () => {
    const r = parseWgDump('(none)\t(none)\t0\t0xca6c\n')
    assert.deepEqual(r, {ok: true, value: {interface: {publicKey: null, listenPort: 0, fwmark: 0xca6c}, peers: []}})
  })
  it('rejects empty output and malformed peers', () => {
    assert.deepEqual(parseWgDump(''), {ok: false, error: {kind: 'empty', message: 'wg show dump printed nothing (is the interface up?)'}})
    const bad = DUMP.replace('\t1700000000\t', '\tyesterday\t')
    assert.equal(parseWgDump(bad).ok, false)
    assert.equal(parseWgDump(`${DUMP}garbage line\n`).ok, false)
    assert.equal(parseWgDump('Unable to access interface: No such device\n').ok, false)
  })
  it('endpoint hosts and handshake ages', () => {
    assert.equal(endpointHost('198.18.0.12:51820'), '198.18.0.12')
    assert.equal(endpointHost('[fd00::1]:51820'), 'fd00::1')
    const r = parseWgDump(DUMP)
    assert.ok(r.ok)
    assert.equal(handshakeAge(r.value.peers[0], 1700000100), 100)
    assert.equal(handshakeAge(r.value.peers[0], 1699999990), 0)
    assert.equal(handshakeAge(r.value.peers[1], 1700000100), null)
  })
})
