import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'

import {aliveName, decodeNamesReply, decodePort2Resp, encodeNamesReq, encodePortPlease2Req} from '../../src/core/epmd.js'

// Captured from a real epmd (OTP 25) on 127.0.0.1:38407 with `erl -sname app` registered.
const REAL_NAMES = Buffer.from('000096076e616d652061707020617420706f72742033373934370a', 'hex')
const REAL_PORT2 = Buffer.from('7700943b4d000006000500036170700000', 'hex')
const REAL_NOT_FOUND = Buffer.from('7701', 'hex')

describe('EPMD requests', () => {
  it('NAMES_REQ is 00 01 6E', () => assert.equal(encodeNamesReq().toString('hex'), '00016e'))
  it('PORT_PLEASE2_REQ frames the name', () => assert.equal(encodePortPlease2Req('app').toString('hex'), '00047a617070'))
  it('refuses names no node can have', () => {
    assert.throws(() => encodePortPlease2Req(''))
    assert.throws(() => encodePortPlease2Req('app@host'))
    assert.throws(() => encodePortPlease2Req('a'.repeat(256)))
  })
  it('aliveName drops the host part', () => assert.equal(aliveName('app@Host-B'), 'app'))
})

describe('NAMES reply', () => {
  it('decodes a real reply', () => {
    assert.deepEqual(decodeNamesReply(REAL_NAMES), {ok: true, value: {epmdPort: 38407, nodes: [{name: 'app', port: 37947}]}})
  })
  it('decodes an empty node list and several nodes', () => {
    const head = Buffer.from([0, 0, 0x11, 0x11])
    assert.deepEqual(decodeNamesReply(head), {ok: true, value: {epmdPort: 4369, nodes: []}})
    const two = Buffer.concat([head, Buffer.from('name app at port 9100\nname rem_1 at port 9101\n')])
    const r = decodeNamesReply(two)
    assert.ok(r.ok)
    assert.deepEqual(r.value.nodes.map((n) => n.name), ['app', 'rem_1'])
  })
  it('reports empty, truncated and garbage input by kind', () => {
    assert.equal(kind(decodeNamesReply(Buffer.alloc(0))), 'empty')
    assert.equal(kind(decodeNamesReply(REAL_NAMES.subarray(0, 3))), 'truncated')
    assert.equal(kind(decodeNamesReply(REAL_NAMES.subarray(0, REAL_NAMES.length - 1))), 'truncated')
    assert.equal(kind(decodeNamesReply(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))), 'garbage')
    assert.equal(kind(decodeNamesReply(Buffer.concat([Buffer.from([0, 0, 0x11, 0x11]), Buffer.from('name x at port 99999\n')]))), 'garbage')
  })
  it('never throws on any prefix or random bytes', () => {
    for (let n = 0; n <= REAL_NAMES.length; n++) decodeNamesReply(REAL_NAMES.subarray(0, n))
    for (let i = 0; i < 500; i++) decodeNamesReply(randomBytes(i % 40))
  })
})

describe('PORT2_RESP', () => {
  it('decodes a real success reply', () => {
    const r = decodePort2Resp(REAL_PORT2)
    assert.ok(r.ok && r.value.found)
    assert.deepEqual({...r.value.node, extra: r.value.node.extra.length}, {
      name: 'app', port: 37947, nodeType: 77, protocol: 0, highestVersion: 6, lowestVersion: 5, extra: 0,
    })
  })
  it('decodes not-found', () => assert.deepEqual(decodePort2Resp(REAL_NOT_FOUND), {ok: true, value: {found: false, result: 1}}))
  it('every strict prefix of a success reply is truncated, never a crash', () => {
    for (let n = 1; n < REAL_PORT2.length; n++) assert.equal(kind(decodePort2Resp(REAL_PORT2.subarray(0, n))), 'truncated', `prefix ${n}`)
    assert.equal(kind(decodePort2Resp(Buffer.alloc(0))), 'empty')
  })
  it('rejects trailing bytes and a wrong tag', () => {
    assert.equal(kind(decodePort2Resp(Buffer.concat([REAL_PORT2, Buffer.from([0])]))), 'garbage')
    assert.equal(kind(decodePort2Resp(Buffer.from('7701ff', 'hex'))), 'garbage')
    assert.equal(kind(decodePort2Resp(Buffer.from('HTTP/1.1'))), 'garbage')
  })
  it('never throws on random bytes starting with the tag', () => {
    for (let i = 0; i < 500; i++) decodePort2Resp(Buffer.concat([Buffer.from([0x77, i % 3 === 0 ? 1 : 0]), randomBytes(i % 30)]))
  })
})

function kind(r: {ok: boolean; error?: {kind: string}}): string {
  return r.ok ? 'ok' : r.error!.kind
}
