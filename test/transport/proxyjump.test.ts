import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'
import {ConnectionError} from '../../src/core/errors.js'
import {connect} from '../../src/remote/ssh.js'
import {TestServer, knownLine, newKeyPair, scratchHome, startServer} from './harness.js'

const clientKey = newKeyPair()
const home = scratchHome(clientKey)
let jump: TestServer
let inner: TestServer

before(async () => {
  jump = await startServer({clientKey})
  inner = await startServer({clientKey})
  writeFileSync(home.knownHosts, [knownLine(jump.port, jump.hostKey), knownLine(inner.port, inner.hostKey)].join('\n') + '\n')
})
after(async () => {
  await inner.close()
  await jump.close()
  home.remove()
})

const opts = (configFile: string) => ({
  name: 'host-b', home: home.home, agentSocket: null, globalKnownHostsFile: null, identityFile: home.keyFile, configFile, connectTimeoutSeconds: 5,
})

describe('ProxyJump', () => {
  it('connects through a jump host (config alias, hop user from config)', async () => {
    const cfg = home.write('config-jump', [
      'Host target', '  HostName 127.0.0.1', `  Port ${inner.port}`, '  User app', '  ProxyJump bastion',
      'Host bastion', '  HostName 127.0.0.1', `  Port ${jump.port}`, '  User hopper',
    ].join('\n'))
    const t = await connect({host: 'target'}, opts(cfg))
    try {
      assert.equal((await t.run(['echo', 'inside'])).stdout, 'inside\n')
      assert.deepEqual(jump.tcpip.at(-1), {destIP: '127.0.0.1', destPort: inner.port})
      assert.equal(jump.users.at(-1), 'hopper')
      assert.equal(inner.users.at(-1), 'app')
      assert.equal(jump.execs.length, 0)
    } finally {
      await t.close()
    }
  })

  it('goes through two hops in order', async () => {
    const cfg = home.write('config-2hops', `Host target\n HostName 127.0.0.1\n ProxyJump root@127.0.0.1:${jump.port},root@127.0.0.1:${jump.port}\n`)
    const before = jump.tcpip.length
    const t = await connect({host: 'target', port: inner.port, user: 'root'}, opts(cfg))
    try {
      assert.equal((await t.run(['true'])).code, 0)
      // Hop 2 is reached through hop 1 (jump -> jump), then the target through hop 2.
      assert.deepEqual(jump.tcpip.slice(before), [{destIP: '127.0.0.1', destPort: jump.port}, {destIP: '127.0.0.1', destPort: inner.port}])
    } finally {
      await t.close()
    }
  })

  it('verifies the target key too: an unknown target behind a known jump is refused', async () => {
    const stranger = await startServer({clientKey})
    const cfg = home.write('config-stranger', `Host s\n HostName 127.0.0.1\n Port ${stranger.port}\n ProxyJump root@127.0.0.1:${jump.port}\n`)
    try {
      await assert.rejects(connect({host: 's', user: 'root'}, opts(cfg)), (e: unknown) => e instanceof ConnectionError && /unknown host key/.test(e.message))
      assert.equal(stranger.users.length, 0)
    } finally {
      await stranger.close()
    }
  })
})
