// A probe's timeout (or a close's bound) that fires late (the CLI had no CPU for a while: a small controller checking
// dozens of hosts, the 32-host lab on two cores) must not call a reply that arrived in time a timeout. Node runs
// expired timers before it reads the sockets that became readable meanwhile; the probes' timeouts (ioTimeout) wait
// for that read. The replies (and the closes) come from a server in another process, so they arrive while this
// process is busy.
import assert from 'node:assert/strict'
import {ChildProcess, spawn} from 'node:child_process'
import {EventEmitter} from 'node:events'
import net from 'node:net'
import {after, before, describe, it} from 'node:test'

import {exchangeUntilEof} from '../../src/remote/epmd-client.js'
import {closeAll} from '../../src/remote/pool.js'
import {endClient} from '../../src/remote/ssh.js'
import {ioTimeout} from '../../src/remote/timeouts.js'
import {openFrom} from '../../src/services/doctor-probe.js'
import {FakeTransport, ok} from '../support/fake-transport.js'

/**
 * Answers "hello" and closes once it got a byte; a connection whose first byte is "s" gets no answer at all.
 * A connection the client ends is closed at once (allowHalfOpen is off).
 */
const SERVER = `
const server = require('node:net').createServer((c) => {
  c.on('error', () => {})
  c.once('data', (d) => { if (d[0] !== 115) c.end('hello') })
})
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
`

const TIMEOUT_MS = 100
/** Longer than the timeout: the reply is there well before the process looks again. */
const BUSY_MS = 400

function busy(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // the CPU is elsewhere: nothing of this process runs
  }
}

let child: ChildProcess
let port: number
before(async () => {
  child = spawn(process.execPath, ['-e', SERVER], {stdio: ['ignore', 'pipe', 'inherit']})
  port = Number(await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(String(d)))
    child.once('exit', (code) => reject(new Error(`the test server exited (${code})`)))
  }))
})
after(() => child.kill())

async function connected(): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return socket
}

/** Until this side's FIN is out (Node sends it from the event loop): only then can the peer's close come. */
async function sent(socket: net.Socket): Promise<void> {
  for (let i = 0; i < 100 && !socket.writableFinished; i++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(socket.writableFinished, 'the FIN was never sent')
}

describe('a timeout that fires late', () => {
  it('an EPMD-style exchange whose reply came while the process was busy past the timeout: the reply, not a timeout', async () => {
    for (let i = 0; i < 3; i++) {
      const reply = exchangeUntilEof(await connected(), Buffer.from('x'), {timeoutMs: TIMEOUT_MS})
      busy(BUSY_MS)
      const res = await reply
      assert.ok(res.ok, `try ${i + 1}: ${JSON.stringify(res)}`)
      assert.equal(res.value.toString(), 'hello')
    }
  })

  it('silence is still a timeout, in about the time given', async () => {
    const started = performance.now()
    const res = await exchangeUntilEof(await connected(), Buffer.from('s'), {timeoutMs: TIMEOUT_MS})
    const ms = performance.now() - started
    assert.equal(res.ok, false)
    assert.equal(!res.ok && res.reason, 'timeout')
    assert.ok(ms >= TIMEOUT_MS - 5 && ms < TIMEOUT_MS + 1000, `took ${ms.toFixed(0)} ms`)
  })

  it('a channel that opened while the process was busy past the timeout is open, not filtered', async () => {
    const t = new FakeTransport('Host-A', () => ok(), {openTcp: () => connected()})
    const opening = openFrom(t, '10.77.0.2', 4369, TIMEOUT_MS)
    busy(BUSY_MS)
    const res = await opening
    assert.equal(res.state, 'open', JSON.stringify({state: res.state, detail: res.detail}))
    res.socket!.destroy()
  })

  it('a connection whose close came while the process was busy past the bound closed cleanly (endClient)', async () => {
    for (let i = 0; i < 3; i++) {
      const socket = (await connected()).resume()
      // What endClient uses of an ssh2 Client: its socket, end() (the disconnect and a FIN), destroy() and 'close'.
      const client = Object.assign(new EventEmitter(), {_sock: socket, end: () => socket.end(), destroy: () => socket.destroy()})
      socket.once('close', () => client.emit('close'))
      const closing = endClient(client as never, TIMEOUT_MS)
      await sent(socket)
      busy(BUSY_MS)
      assert.equal(await closing, true, `try ${i + 1}: the close that came in time was called forced`)
    }
  })

  it('a transport whose close came while the process was busy past the bound is no note (closeAll)', async () => {
    const socket = (await connected()).resume()
    const t = new FakeTransport('Host-A', () => ok())
    t.close = () => new Promise<void>((resolve) => socket.end(() => socket.once('close', () => resolve())))
    const closing = closeAll([t], TIMEOUT_MS)
    await sent(socket)
    busy(BUSY_MS)
    assert.deepEqual(await closing, [])
  })

  it('a close that never comes is still bounded: endClient drops the socket, closeAll abandons it', async () => {
    const socket = await connected()
    const client = Object.assign(new EventEmitter(), {_sock: socket, end: () => {}, destroy: () => {}})
    assert.equal(await endClient(client as never, TIMEOUT_MS), false)
    assert.equal(socket.destroyed, true)
    const t = new FakeTransport('Host-B', () => ok())
    t.close = () => new Promise<void>(() => {})
    assert.deepEqual(await closeAll([t], TIMEOUT_MS), [{name: 'Host-B', note: 'closing the connection took longer than 0.1 s: abandoned'}])
  })

  it('clear() after the timer fired, before its verdict: no verdict', async () => {
    let verdicts = 0
    const timer = ioTimeout(20, () => verdicts++)
    // Same duration, set after it: Node runs it right after the ioTimeout's own timer, before the verdict's turn.
    setTimeout(() => timer.clear(), 20)
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.equal(verdicts, 0)
    const uncleared = ioTimeout(20, () => verdicts++)
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.equal(verdicts, 1, 'an uncleared timer gives its verdict')
    uncleared.clear()
  })
})
