// The loop that checks first sessions after an apply, against fake hosts whose WireGuard tables it controls.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {generateKeyPair} from '../../src/core/wgkeys.js'
import type {ApplySession, HostResult} from '../../src/services/apply-types.js'
import {settleFreshTunnels} from '../../src/services/fresh-tunnels.js'

const names = ['Host-A', 'Host-B', 'Host-C']
const keys = new Map(names.map((n) => [n, generateKeyPair().publicKey]))
const FAST = {mendAfterMs: 20, mendAgainMs: 30, maxMends: 3, settleWithinMs: 300, pollMs: 5}

/**
 * Three hosts that came up together. `broken` pairs (sorted names) have no session; a restart from a host mends
 * its pairs after `failingRestarts` more restarts of that pair have failed (a restart that met the other side's retry).
 */
function fakeMesh(broken: string[][], failingRestarts = 0, kinds: Record<string, string> = {}) {
  const open = new Set(broken.map((p) => p.join('+')))
  const left = new Map([...open].map((p) => [p, failingRestarts]))
  const restarts: string[] = []
  const results: HostResult[] = names.map((name) => ({name, status: 'changed', files: [], iface: 'up', disruptive: false, notes: []}))
  const remote = (name: string) => ({
    latestHandshakes: async () => new Map(names.filter((p) => p !== name).map((p) => [keys.get(p)!, open.has([name, p].sort().join('+')) ? 0 : 1_700_000_000])),
    restartHandshakes: async (peers: string[], expected: number) => {
      assert.equal(expected, 2, 'every other host is a peer')
      for (const key of peers) {
        const peer = names.find((n) => keys.get(n) === key)!
        const pair = [name, peer].sort().join('+')
        restarts.push(`${name}>${peer}`)
        const n = left.get(pair) ?? 0
        if (n > 0) left.set(pair, n - 1)
        else open.delete(pair)
      }
    },
  })
  // As apply builds it: each session's host is the mesh's own host.
  const hosts = names.map((name, i) => ({name, publicKey: keys.get(name)!, endpoint: `192.0.2.${i + 1}`, listenPort: 51820}))
  const session = {
    loaded: {mesh: {hosts}},
    sessions: hosts.map((host) => ({host, remote: remote(host.name), plan: {iface: {kind: kinds[host.name] ?? 'up'}}})),
  } as unknown as ApplySession
  const steps: string[] = []
  const progress = {step: (host: string, m: string) => steps.push(`${host}: ${m}`)}
  return {session, results, restarts, steps, run: () => settleFreshTunnels(session, results, progress, FAST)}
}

describe('settleFreshTunnels', () => {
  it('all sessions there: one look, nothing restarted, no warning', async () => {
    const m = fakeMesh([])
    assert.deepEqual(await m.run(), [])
    assert.deepEqual(m.restarts, [])
  })

  it('a crossed pair is restarted from its first name only, and noted on that host', async () => {
    const m = fakeMesh([['Host-B', 'Host-C']])
    assert.deepEqual(await m.run(), [])
    assert.deepEqual(m.restarts, ['Host-B>Host-C'])
    assert.match(m.results[1].notes.join('\n'), /WireGuard handshake started again with Host-C/)
    assert.deepEqual(m.results[0].notes.concat(m.results[2].notes), [])
  })

  it('a restart that meets the other side\'s retry is followed by another', async () => {
    const m = fakeMesh([['Host-A', 'Host-C']], 2)
    assert.deepEqual(await m.run(), [])
    assert.deepEqual(m.restarts, ['Host-A>Host-C', 'Host-A>Host-C', 'Host-A>Host-C'])
  })

  it('a pair that never gets a session: a bounded number of restarts, then a warning naming both endpoints', async () => {
    const m = fakeMesh([['Host-A', 'Host-B']], 99)
    const warnings = await m.run()
    assert.equal(m.restarts.length, FAST.maxMends)
    assert.equal(warnings.length, 1)
    assert.match(warnings[0], /^Host-A and Host-B: no WireGuard session .* 192\.0\.2\.1:51820 and 192\.0\.2\.2:51820/)
  })

  it('hosts whose interface did not come up in this apply are not checked', async () => {
    const m = fakeMesh([['Host-A', 'Host-B']], 0, {'Host-A': 'syncconf'})
    assert.deepEqual(await m.run(), [])
    assert.deepEqual(m.restarts, [])
  })
})
