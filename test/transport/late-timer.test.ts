// A probe's timeout that fires late (the CLI had no CPU for a while: a small controller checking dozens of hosts,
// the 32-host lab on two cores) must not call a reply that arrived in time a timeout. Node runs expired timers
// before it reads the sockets that became readable meanwhile; the probes' timeouts (ioTimeout) wait for that read.
// The replies come from a server in another process, so they arrive while this process is busy.
import assert from 'node:assert/strict'
import {ChildProcess, spawn} from 'node:child_process'
import net from 'node:net'
import {after, before, describe, it} from 'node:test'

import {exchangeUntilEof} from '../../src/remote/epmd-client.js'
import {ioTimeout} from '../../src/remote/timeouts.js'
import {openFrom} from '../../src/services/doctor-probe.js'
import {FakeTransport, ok} from '../support/fake-transport.js'

/** Answers "hello" and closes once it got a byte; a connection whose first byte is "s" gets no answer at all. */
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
