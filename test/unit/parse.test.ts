import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {parseGetent, parseHostname} from '../../src/core/parse.js'
import {portStateOf} from '../../src/core/doctor-facts.js'

describe('getent', () => {
  it('reads the first answer of getent hosts', () => {
    assert.deepEqual(parseGetent('10.77.0.2       Host-B Host-B.mesh\n'), {ok: true, value: {address: '10.77.0.2', names: ['Host-B', 'Host-B.mesh']}})
    assert.deepEqual(parseGetent('fd77:77::2      Host-B\n'), {ok: true, value: {address: 'fd77:77::2', names: ['Host-B']}})
  })
  it('reads the first answer of getent ahosts (STREAM line wins)', () => {
    const out = '198.18.0.12     STREAM Host-B-wg\n198.18.0.12     DGRAM  \n198.18.0.12     RAW    \n'
    assert.deepEqual(parseGetent(out), {ok: true, value: {address: '198.18.0.12', names: ['Host-B-wg']}})
  })
  it('empty output = does not resolve', () => assert.deepEqual(parseGetent(''), {ok: true, value: null}))
  it('garbage is a typed error', () => {
    const r = parseGetent('sudo: a password is required\n')
    assert.ok(!r.ok && r.error.kind === 'garbage')
  })
})

describe('hostname', () => {
  it('short and FQDN', () => {
    assert.deepEqual(parseHostname('Host-B\n'), {ok: true, value: {hostname: 'Host-B', short: 'Host-B'}})
    assert.deepEqual(parseHostname('host-b.example.com\n'), {ok: true, value: {hostname: 'host-b.example.com', short: 'host-b'}})
  })
  it('empty and garbage', () => {
    assert.equal(parseHostname('\n').ok, false)
    assert.equal(parseHostname('two\nlines\n').ok, false)
    assert.equal(parseHostname('bad_name!\n').ok, false)
  })
})

describe('portStateOf', () => {
  it('maps probe outcomes', () => {
    assert.equal(portStateOf({ok: true}), 'open')
    assert.equal(portStateOf({ok: false, reason: 'io', code: 'ECONNREFUSED'}), 'closed')
    assert.equal(portStateOf({ok: false, reason: 'io', code: 'EHOSTUNREACH'}), 'filtered')
    assert.equal(portStateOf({ok: false, reason: 'timeout'}), 'filtered')
    assert.equal(portStateOf({ok: false, reason: 'parse'}), 'open')
  })
})
