import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {after, before, describe, it} from 'node:test'
import {ConnectionError, UserError} from '../../src/core/errors.js'
import {FakeTransport, fail, ok, scripted} from '../support/fake-transport.js'
import {closeAll, connectAll, connectedByName} from '../../src/remote/pool.js'
import {assertOk} from '../../src/remote/result.js'
import {connect} from '../../src/remote/ssh.js'
import {TestServer, knownLine, newKeyPair, scratchHome, startServer} from './harness.js'

describe('connectAll', () => {
  it('respects the concurrency limit, keeps order, never rejects', async () => {
    let active = 0
    let peak = 0
    const items = Array.from({length: 20}, (_, i) => ({name: `h${i}`}))
    const results = await connectAll(items, async (item) => {
      active++
      peak = Math.max(peak, active)
      await new Promise((r) => setTimeout(r, 5 + (Number(item.name.slice(1)) % 3) * 5))
      active--
      if (item.name === 'h7') throw new ConnectionError('h7', 'nope')
      return new FakeTransport(item.name, () => ok())
    }, {concurrency: 3})
    assert.equal(peak, 3)
    assert.deepEqual(results.map((r) => r.name), items.map((i) => i.name))
    assert.ok(results[7].error instanceof ConnectionError)
    assert.equal(connectedByName(results).size, 19)
    await closeAll(results)
    assert.ok(results.every((r) => !r.transport || (r.transport as FakeTransport).closed))
  })

  it('defaults to 8 and wraps non-Error throws', async () => {
    let active = 0
    let peak = 0
    const results = await connectAll(Array.from({length: 12}, (_, i) => ({name: `h${i}`})), async () => {
      peak = Math.max(peak, ++active)
      await new Promise((r) => setTimeout(r, 10))
      active--
      throw 'weird' as unknown // a non-Error throw, on purpose
    })
    assert.equal(peak, 8)
    assert.ok(results.every((r) => r.error instanceof Error && r.error.message === 'weird'))
  })
})

describe('pool over real ssh', () => {
  const clientKey = newKeyPair()
  const home = scratchHome(clientKey)
  let good: TestServer
  let stranger: TestServer
  before(async () => {
    good = await startServer({clientKey})
    stranger = await startServer({clientKey})
    writeFileSync(home.knownHosts, knownLine(good.port, good.hostKey) + '\n')
  })
  after(async () => {
    await good.close()
    await stranger.close()
    home.remove()
  })

  it('gives per-host results: good hosts connect, the unknown one errors', async () => {
    const hosts = [{name: 'a', port: good.port}, {name: 'b', port: stranger.port}, {name: 'c', port: good.port}]
    const results = await connectAll(hosts, (h) => connect({host: '127.0.0.1', port: h.port, user: 'root'}, {
      name: h.name, home: home.home, agentSocket: null, globalKnownHostsFile: null, identityFile: home.keyFile,
    }), {concurrency: 2})
    try {
      assert.deepEqual(results.map((r) => (r.transport ? 'ok' : r.error.message.split(':')[0])), ['ok', 'b', 'ok'])
      assert.equal((await results[2].transport!.run(['echo', 'c'])).stdout, 'c\n')
    } finally {
      await closeAll(results)
    }
  })
})

describe('FakeTransport', () => {
  it('records calls, applies sudo like the real transport, answers from a table', async () => {
    const t = new FakeTransport('host-a', scripted([
      ['env LC_ALL=C sudo -n -- wg show', ok('interface: wg0\n')],
      ['cat', (_argv, stdin) => ok(stdin)],
      ['env LC_ALL=C sudo -n -- needs', fail(1, 'sudo: a password is required\n')],
    ]), {user: 'deploy'})
    assert.equal((await t.run(['wg', 'show'], {sudo: true})).stdout, 'interface: wg0\n')
    assert.equal((await t.run(['cat'], {stdin: Buffer.from('x')})).stdout, 'x')
    assert.equal((await t.run(['nothing'])).code, 127)
    assert.deepEqual(t.commands(), ['env LC_ALL=C sudo -n -- wg show', 'cat', 'nothing'])
    assert.deepEqual(t.calls[0].requested, ['wg', 'show'])
    const r = await t.run(['needs'], {sudo: true})
    assert.throws(() => assertOk(r, t, ['needs']), (e: unknown) => e instanceof UserError && /configure NOPASSWD sudo for deploy/.test((e).fix!))
    await t.close()
    await assert.rejects(t.run(['true']))
  })
})
