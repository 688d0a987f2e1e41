import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {UserError} from '../../src/core/errors.js'
import {hostBlockMatches, parseJumpHost, parseSshConfig, resolveSshConfig} from '../../src/remote/ssh-config.js'
import {resolveEndpoint} from '../../src/remote/ssh.js'

const CONFIG = `
# global settings come first
IdentityFile ~/.ssh/global_key

Host web-* !web-internal
  HostName %h.example.com
  User deploy
  Port 2200
  IdentityFile ~/.ssh/web_key

Host web-1
  User someone-else
  Port=2201

Host db?
  HostName "10.0.0.5"
  ProxyJump jump@bastion:2222,ops@[2001:db8::1]:22

Match host web-1
  User matched

Host *
  User fallback
  ProxyJump none
`

describe('ssh config', () => {
  const blocks = parseSshConfig(CONFIG)

  it('first value wins, IdentityFile accumulates, %h expands', () => {
    const r = resolveSshConfig(blocks, 'web-1')
    assert.equal(r.hostName, 'web-1.example.com')
    assert.equal(r.user, 'deploy')
    assert.equal(r.port, 2200)
    assert.deepEqual(r.identityFiles, ['~/.ssh/global_key', '~/.ssh/web_key'])
    assert.deepEqual(r.proxyJump, [])
  })

  it('negated patterns exclude a host; Match blocks are skipped', () => {
    const r = resolveSshConfig(blocks, 'web-internal')
    assert.equal(r.hostName, undefined)
    assert.equal(r.user, 'fallback')
    assert.ok(!hostBlockMatches(['web-*', '!web-internal'], 'web-internal'))
    assert.ok(hostBlockMatches(['db?'], 'db1'))
    assert.ok(!hostBlockMatches(['db?'], 'db12'))
  })

  it('parses ProxyJump hop lists, quotes, and IPv6 jump hosts', () => {
    const r = resolveSshConfig(blocks, 'db1')
    assert.equal(r.hostName, '10.0.0.5')
    assert.deepEqual(r.proxyJump, [{user: 'jump', host: 'bastion', port: 2222}, {user: 'ops', host: '2001:db8::1', port: 22}])
    assert.deepEqual(parseJumpHost('ssh://u@h:1'), {user: 'u', host: 'h', port: 1})
    assert.deepEqual(parseJumpHost('h'), {user: undefined, host: 'h', port: undefined})
    assert.equal(parseJumpHost('h:99999'), null)
  })

  it('rejects a malformed ProxyJump with a UserError', () => {
    assert.throws(() => resolveSshConfig(parseSshConfig('Host x\n ProxyJump a@b@c'), 'x'), UserError)
  })

  it('inventory user/port win over config (OpenSSH command-line precedence)', () => {
    assert.deepEqual(
      {...resolveEndpoint({host: 'web-1', user: 'root', port: 22}, blocks), identityFiles: []},
      {host: 'web-1.example.com', port: 22, user: 'root', identityFiles: [], proxyJump: []},
    )
    const e = resolveEndpoint({host: 'web-1'}, blocks)
    assert.equal(e.user, 'deploy')
    assert.equal(e.port, 2200)
    assert.equal(resolveEndpoint({host: 'unlisted'}, []).user, 'root')
  })
})
