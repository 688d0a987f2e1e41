// Doctor's TCP probes from a host (issue 19, 64 lab hosts): a probe of a port that should answer and timed out
// is tried once more before it counts (a loaded host's channel may wait past the timeout); a refused port is
// not retried, and neither is an exposure probe, where silence is the healthy answer. The "host" is a fake
// transport whose first channel never opens; the second reaches a real TCP server speaking EPMD's NAMES reply.
import assert from 'node:assert/strict'
import type {Duplex} from 'node:stream'
import {after, before, describe, it} from 'node:test'

import type {MeshHost} from '../../src/core/model.js'
import {PROBE_TIMEOUT_MS, probeEpmd, probeExposure} from '../../src/services/doctor-probe.js'
import {FakeTransport, ok} from '../support/fake-transport.js'
import {startNamesEpmd} from './harness.js'

let epmd: Awaited<ReturnType<typeof startNamesEpmd>>
before(async () => (epmd = await startNamesEpmd()))
after(() => epmd.close())

/** openTcp answers in turn: 'hang' never opens (the probe's own timeout ends it), 'epmd' reaches the server, 'refuse' fails. */
function host(answers: ('hang' | 'epmd' | 'refuse')[]) {
  const calls: string[] = []
  const t = new FakeTransport('Host-A', () => ok(), {
    openTcp: (addr, p) => {
      calls.push(`${addr}:${p}`)
      const next = answers.shift() ?? 'refuse'
      if (next === 'hang') return new Promise<Duplex>(() => undefined)
      if (next === 'refuse') return Promise.reject(new Error('connect ECONNREFUSED (administratively prohibited: open failed)'))
      return epmd.dial()
    },
  })
  return {t, calls}
}

describe('doctor probes on a slow host', {timeout: 4 * PROBE_TIMEOUT_MS + 10_000}, () => {
  it('an EPMD probe that timed out once is tried again and answers', async () => {
    const {t, calls} = host(['hang', 'epmd'])
    const fact = await probeEpmd(t, '10.77.0.2')
    assert.equal(fact.state, 'open')
    assert.deepEqual(fact.nodes, [{name: 'app', port: 9100}])
    assert.deepEqual(calls, ['10.77.0.2:4369', '10.77.0.2:4369'])
  })

  it('a refused port counts at once (no second try)', async () => {
    const {t, calls} = host(['refuse', 'epmd'])
    const fact = await probeEpmd(t, '10.77.0.2')
    assert.equal(fact.state, 'closed')
    assert.equal(calls.length, 1)
  })

  it('a public-side probe that times out is the healthy answer: not retried', async () => {
    const {t, calls} = host(['hang', 'epmd'])
    const target = {name: 'Host-B', endpointIp: '198.18.0.12'} as MeshHost
    const started = performance.now()
    const exposure = await probeExposure(t, target, [])
    assert.deepEqual(exposure, {epmd: 'filtered', dist: []})
    assert.deepEqual(calls, ['198.18.0.12:4369'])
    assert.ok(performance.now() - started < 2 * PROBE_TIMEOUT_MS, 'one timeout, not two')
  })
})
