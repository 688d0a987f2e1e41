// Doctor's per-host probe (issue 15): the TCP probes through the tunnel start beside the probe script (pings,
// names, Erlang's boot), not after it, and count only once the dump shows the interface up. When it is down, the
// tunnel probes are abandoned at once instead of each waiting out its timeout. The host is a fake transport: its
// probe script answers with canned sections, its TCP channels reach a real server speaking EPMD's NAMES reply, or
// never open.
import assert from 'node:assert/strict'
import type {Duplex} from 'node:stream'
import {after, before, describe, it} from 'node:test'

import type {Mesh} from '../../src/core/model.js'
import {PROBE_TIMEOUT_MS, namesToAsk, probeHost} from '../../src/services/doctor-probe.js'
import {FakeTransport, ok} from '../support/fake-transport.js'
import {startNamesEpmd} from './harness.js'

const key = (n: number) => Buffer.alloc(32, n).toString('base64')

const mesh: Mesh = {
  interface: 'wg0',
  ipv4: '10.77.0.0/24',
  beam: {nodeBasename: 'app', naming: 'sname', epmd: true, distPortMin: 9100, distPortMax: 9105, firewall: false},
  hosts: ['Host-A', 'Host-B'].map((name, i) => ({
    name, endpoint: `198.18.0.${11 + i}`, endpointIp: `198.18.0.${11 + i}`, listenPort: 51820,
    ipv4: `10.77.0.${i + 1}`, publicKey: key(i + 1), ssh: {user: 'root', host: `198.18.0.${11 + i}`, port: 22},
  })),
}
const ctx = {mesh, nodeName: (h: {name: string}) => `app@${h.name}`, now: () => 1_700_000_000, names: namesToAsk(mesh)}
const [hostA] = mesh.hosts

/** What the probe script prints on Host-A: its hostname, and the dump when the interface is up. */
function probeOutput(wgUp: boolean): string {
  const dump = wgUp
    ? ['@@dump', `(hidden)\t${key(1)}\t51820\toff`, `${key(2)}\t(none)\t198.18.0.12:51820\t10.77.0.2/32\t1699999990\t100\t100\t25`, '@@dumpstatus 0']
    : ['@@dump', '@@dumpstatus 1']
  return ['@@hostname', 'Host-A', '@@hosts', '127.0.0.1 localhost', ...dump, ''].join('\n')
}
const pingReport = '--- 10.77.0.2 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 401ms\n'

let epmd: Awaited<ReturnType<typeof startNamesEpmd>>
before(async () => (epmd = await startNamesEpmd()))
after(() => epmd.close())

describe('doctor probe of one host', {timeout: 2 * PROBE_TIMEOUT_MS + 10_000}, () => {
  it('opens the tunnel probes while the probe script still runs, and counts them once the interface is up', async () => {
    const opened: string[] = []
    let scriptDone = false
    let sawTunnelProbe: () => void
    const tunnelProbe = new Promise<void>((resolve) => (sawTunnelProbe = resolve))
    const t = new FakeTransport('Host-A', async () => {
      // The script "runs" until the peer's EPMD was dialled (or a second passes, and the test fails below).
      await Promise.race([tunnelProbe, new Promise((r) => setTimeout(r, 1000))])
      scriptDone = true
      return ok(probeOutput(true), pingReport)
    }, {
      openTcp: (addr, p) => {
        opened.push(`${addr}:${p}${scriptDone ? ' (after the script)' : ''}`)
        if (addr === '10.77.0.2') sawTunnelProbe()
        // The dist port answers nothing a handshake can use: it closes at once.
        if (p === 9100) return Promise.reject(new Error('connect ECONNREFUSED'))
        return epmd.dial()
      },
    })
    const facts = await probeHost(t, hostA, ctx, {erl: false})
    assert.ok(opened.includes('10.77.0.2:4369'), `the peer's EPMD was dialled while the script ran: ${opened.join(', ')}`)
    assert.ok(opened.includes('127.0.0.1:4369') && opened.includes('10.77.0.1:4369'), opened.join(', '))
    assert.equal(t.calls.length, 1, 'one probe script')
    assert.ok(facts.wg, 'the dump was read')
    assert.deepEqual(facts.links!['Host-B'].ping, {sent: 3, received: 3})
    assert.deepEqual(facts.links!['Host-B'].epmd, {state: 'open', nodes: [{name: 'app', port: 9100}]})
    assert.equal(facts.links!['Host-B'].dist?.state, 'closed')
    assert.deepEqual(facts.selfEpmd, {state: 'open', nodes: [{name: 'app', port: 9100}]})
    assert.deepEqual(facts.localEpmd, {state: 'open', nodes: [{name: 'app', port: 9100}]})
  })

  it('interface down: the tunnel probes are abandoned at once, not waited out, and count for nothing', async () => {
    const opened: string[] = []
    const t = new FakeTransport('Host-A', () => ok(probeOutput(false), pingReport.replace('3 received, 0%', '0 received, 100%')), {
      openTcp: (addr, p) => {
        opened.push(`${addr}:${p}`)
        // Without the interface the tunnel addresses lead nowhere: their channels never open.
        return addr === '127.0.0.1' ? epmd.dial() : new Promise<Duplex>(() => undefined)
      },
    })
    const started = performance.now()
    const facts = await probeHost(t, hostA, ctx, {erl: false})
    const ms = performance.now() - started
    assert.ok(ms < PROBE_TIMEOUT_MS / 2, `probeHost took ${ms.toFixed(0)} ms; the hung tunnel probes were waited for`)
    assert.ok(opened.includes('10.77.0.2:4369'), 'the tunnel probe had started beside the script')
    assert.equal(facts.wg, null)
    assert.deepEqual(facts.links, {'Host-B': {ping: {sent: 3, received: 0}}})
    assert.equal(facts.selfEpmd, undefined)
    assert.deepEqual(facts.localEpmd, {state: 'open', nodes: [{name: 'app', port: 9100}]})
  })
})
