import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'

import {PROBE_FLAGS, decodeDistChallenge, decodeDistStatus, encodeSendName} from '../../src/remote/dist-probe.js'

const body = (hex: string | Buffer) => (typeof hex === 'string' ? Buffer.from(hex, 'latin1') : hex)

describe('dist handshake codec (version 6)', () => {
  it('send_name: u16 len, N, u64 flags, u32 creation, u16 nlen, name', () => {
    const m = encodeSendName('probe@vm', 0x01020304)
    assert.equal(m.readUInt16BE(0), m.length - 2)
    assert.equal(String.fromCharCode(m[2]), 'N')
    assert.equal(m.readBigUInt64BE(3), PROBE_FLAGS)
    assert.equal(m.readUInt32BE(11), 0x01020304)
    assert.equal(m.readUInt16BE(15), 8)
    assert.equal(m.subarray(17).toString(), 'probe@vm')
  })
  it('claims HANDSHAKE_23 and the OTP 25 digest, not PUBLISHED (a hidden probe)', () => {
    assert.ok(PROBE_FLAGS & 0x1000000n)
    assert.ok(PROBE_FLAGS & 0x4000000n)
    assert.equal(PROBE_FLAGS & 0x1n, 0n)
  })
  it('decodes every status', () => {
    for (const s of ['ok', 'ok_simultaneous', 'nok', 'not_allowed', 'alive'] as const) {
      assert.deepEqual(decodeDistStatus(body(`s${s}`)), {ok: true, value: {status: s}})
    }
    const named = Buffer.concat([Buffer.from('snamed:'), Buffer.from([0, 4]), Buffer.from('x@vm'), Buffer.from([0, 0, 0, 1])])
    assert.deepEqual(decodeDistStatus(named), {ok: true, value: {status: 'named', assignedName: 'x@vm'}})
    assert.equal(decodeDistStatus(named.subarray(0, 10)).ok, false)
    assert.equal(decodeDistStatus(body('sbogus')).ok, false)
    assert.equal(decodeDistStatus(body('x')).ok, false)
  })
  it('decodes a v6 challenge and reports the node name', () => {
    const name = Buffer.from('app@Host-B')
    const c = Buffer.alloc(19 + name.length)
    c.write('N', 0, 'latin1')
    c.writeBigUInt64BE(PROBE_FLAGS, 1)
    c.writeUInt32BE(0xdeadbeef, 9)
    c.writeUInt32BE(7, 13)
    c.writeUInt16BE(name.length, 17)
    name.copy(c, 19)
    assert.deepEqual(decodeDistChallenge(c), {ok: true, value: {nodeName: 'app@Host-B', version: 6}})
    for (let n = 0; n < c.length; n++) assert.equal(decodeDistChallenge(c.subarray(0, n)).ok, false)
  })
  it('never throws on random bytes', () => {
    for (let i = 0; i < 500; i++) {
      decodeDistStatus(randomBytes(i % 20))
      decodeDistChallenge(Buffer.concat([Buffer.from(i % 2 ? 'N' : 'n'), randomBytes(i % 30)]))
    }
  })
})
