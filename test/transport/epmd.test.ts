// EPMD client and dist probe against a REAL epmd and a real erl node on 127.0.0.1, plus fake
// servers that misbehave. Every process and socket is cleaned up in after(), also on failure.
import assert from 'node:assert/strict'
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import net from 'node:net'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {epmdNames, epmdPortPlease, exchangeUntilEof} from '../../src/remote/epmd-client.js'
import {distProbe} from '../../src/remote/dist-probe.js'
import {skipUnless} from '../support/prereq.js'

const hasEpmd = spawnSync('sh', ['-c', 'command -v epmd && command -v erl'], {encoding: 'utf8'}).status === 0
if (!hasEpmd) {
  // Loud, and fatal in CI: a silently skipped suite is a suite that never runs.
  console.warn('\n*** epmd/erl not installed: SKIPPING the real-epmd tests (apt-get install erlang-base) ***\n')
  if (process.env.CI) throw new Error('epmd/erl missing in CI: install erlang-base')
}

const procs: ChildProcess[] = []
const servers: net.Server[] = []
let home = ''

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

const connect = (port: number) => net.connect({host: '127.0.0.1', port})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15000): Promise<T> {
  const stop = Date.now() + ms
  while (Date.now() < stop) {
    const v = await fn()
    if (v !== undefined) return v
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}`)
}

function fakeServer(reply: (sock: net.Socket) => void): Promise<number> {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {})
    sock.once('data', () => reply(sock))
  })
  servers.push(srv)
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)))
}

/** SIGTERM first: beam then shuts down cleanly and reaps its erl_child_setup; SIGKILL if it lingers. */
async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise((r) => p.once('exit', r))
  p.kill('SIGTERM')
  const timer = setTimeout(() => p.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

after(async () => {
  // The node first, then its epmd.
  for (const p of [...procs].reverse()) await stop(p)
  for (const s of servers) s.close()
  if (home) rmSync(home, {recursive: true, force: true})
})

describe('real epmd on 127.0.0.1', {skip: skipUnless(hasEpmd, 'epmd not installed')}, () => {
  let epmdPort = 0
  let distPort = 0
  const node = 'probe_x'
  const host = hostname().split('.')[0]

  before(async () => {
    epmdPort = await freePort()
    home = mkdtempSync(join(tmpdir(), 'mesh-epmd-'))
    const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], {stdio: 'ignore'})
    procs.push(epmd)
    await until('epmd', async () => {
      const r = await epmdNames(connect(epmdPort), 1000)
      return r.ok ? true : undefined
    })
    // -start_epmd false: erl would otherwise spawn `epmd -daemon` on all addresses; ours is up already.
    // A private HOME keeps erl's generated cookie out of the user's home; the dist port binds loopback only.
    const erl = spawn('erl', ['-sname', node, '-noshell', '-start_epmd', 'false', '-kernel', 'inet_dist_use_interface', '{127,0,0,1}'], {
      stdio: 'ignore',
      env: {...process.env, HOME: home, ERL_EPMD_PORT: String(epmdPort)},
    })
    procs.push(erl)
    distPort = await until('node registration', async () => {
      const r = await epmdNames(connect(epmdPort), 1000)
      return r.ok ? r.value.nodes.find((n) => n.name === node)?.port : undefined
    })
  })

  it('NAMES lists the node with its dist port and epmd its own port', async () => {
    const r = await epmdNames(connect(epmdPort), 2000)
    assert.ok(r.ok, JSON.stringify(r))
    assert.equal(r.value.epmdPort, epmdPort)
    assert.deepEqual(r.value.nodes, [{name: node, port: distPort}])
  })

  it('PORT_PLEASE2 finds the node', async () => {
    const r = await epmdPortPlease(connect(epmdPort), node, 2000)
    assert.ok(r.ok && r.value.found, JSON.stringify(r))
    assert.equal(r.value.node.name, node)
    assert.equal(r.value.node.port, distPort)
    assert.equal(r.value.node.nodeType, 77)
    assert.ok(r.value.node.highestVersion >= 6)
  })

  it('PORT_PLEASE2 reports an unknown name as not found', async () => {
    const r = await epmdPortPlease(connect(epmdPort), 'nobody_here', 2000)
    assert.deepEqual(r, {ok: true, value: {found: false, result: 1}})
  })

  it('dist probe: the node accepts the name it really has', async () => {
    const r = await distProbe(connect(distPort), {dialledName: `${node}@${host}`, timeoutMs: 3000})
    assert.ok(r.ok, JSON.stringify(r))
    assert.equal(r.value.status, 'ok')
    assert.equal(r.value.nodeName, `${node}@${host}`)
    assert.equal(r.value.nameMatches, true)
  })

  it('dist probe: a wrong host part (or wrong case) is reported as a mismatch', async () => {
    for (const wrong of [`${node}@${host}-wg`, `${node}@${host.toUpperCase() === host ? host.toLowerCase() : host.toUpperCase()}`]) {
      const r = await distProbe(connect(distPort), {dialledName: wrong, timeoutMs: 3000})
      assert.ok(r.ok, JSON.stringify(r))
      assert.equal(r.value.nodeName, `${node}@${host}`)
      assert.equal(r.value.nameMatches, false, wrong)
    }
  })
})

describe('epmd client against misbehaving servers', () => {
  const cases: [string, Buffer, string][] = [
    ['truncated header', Buffer.from([0x00, 0x00]), 'truncated'],
    ['cut mid-line', Buffer.concat([Buffer.from([0, 0, 0x11, 0x11]), Buffer.from('name a at port 4')]), 'truncated'],
    ['HTTP garbage', Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), 'garbage'],
    ['nothing at all', Buffer.alloc(0), 'empty'],
  ]
  for (const [label, bytes, kind] of cases) {
    it(`NAMES: ${label} -> parse error "${kind}"`, async () => {
      const port = await fakeServer((s) => s.end(bytes))
      const r = await epmdNames(connect(port), 2000)
      assert.equal(r.ok, false)
      assert.ok(!r.ok && r.reason === 'parse' && r.parseError?.kind === kind, JSON.stringify(r))
    })
  }

  it('PORT_PLEASE2: truncated success reply -> parse error', async () => {
    const port = await fakeServer((s) => s.end(Buffer.from([0x77, 0x00, 0x23, 0x8c, 77])))
    const r = await epmdPortPlease(connect(port), 'app', 2000)
    assert.ok(!r.ok && r.parseError?.kind === 'truncated', JSON.stringify(r))
  })

  it('a server that never closes -> timeout, socket destroyed', async () => {
    const port = await fakeServer((s) => s.write(Buffer.from([0, 0, 0x11])))
    const sock = connect(port)
    const r = await epmdNames(sock, 300)
    assert.ok(!r.ok && r.reason === 'timeout', JSON.stringify(r))
    assert.equal(sock.destroyed, true)
  })

  it('a server that floods -> too-large', async () => {
    const port = await fakeServer((s) => s.end(Buffer.alloc(64 * 1024, 0x41)))
    const r = await exchangeUntilEof(connect(port), Buffer.from([0, 1, 0x6e]), {timeoutMs: 2000, maxBytes: 1024})
    assert.ok(!r.ok && r.reason === 'too-large', JSON.stringify(r))
  })

  it('nothing listening -> io ECONNREFUSED', async () => {
    const r = await epmdNames(connect(await freePort()), 2000)
    assert.ok(!r.ok && r.reason === 'io' && r.code === 'ECONNREFUSED', JSON.stringify(r))
  })

  it('dist probe: garbage status and early close are parse errors', async () => {
    const garbage = await fakeServer((s) => s.end(Buffer.from([0, 3, 0x78, 0x79, 0x7a])))
    const r1 = await distProbe(connect(garbage), {dialledName: 'app@h', timeoutMs: 2000})
    assert.ok(!r1.ok && r1.reason === 'parse', JSON.stringify(r1))
    const closer = await fakeServer((s) => s.end())
    const r2 = await distProbe(connect(closer), {dialledName: 'app@h', timeoutMs: 2000})
    assert.ok(!r2.ok && r2.parseError?.kind === 'empty', JSON.stringify(r2))
    const refuse = await fakeServer((s) => s.end(Buffer.from([0, 4, 0x73, ...Buffer.from('nok')])))
    const r3 = await distProbe(connect(refuse), {dialledName: 'app@h', timeoutMs: 2000})
    assert.deepEqual(r3, {ok: true, value: {status: 'nok', nodeName: undefined, nameMatches: null, dialledName: 'app@h'}})
  })
})
