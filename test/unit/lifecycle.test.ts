// Issue 7, pure and local parts: teardown planning, peer deltas for the plan, the rotation state machine on disk.
import assert from 'node:assert/strict'
import {existsSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {ApplyHostFacts, HostPlan} from '../../src/core/plan.js'
import {describePeerDelta, describeTeardown, peerDelta, planTeardown} from '../../src/core/teardown.js'
import {generatePrivateKey, publicKeyOf} from '../../src/core/wgkeys.js'
import type {RemoteHost} from '../../src/remote/hostops.js'
import type {ApplySession, HostResult, HostSession} from '../../src/services/apply-types.js'
import {runLifecycle} from '../../src/services/lifecycle.js'
import {loadMesh} from '../../src/services/mesh.js'
import {commitRotation, pendingFile, startKeyRotation} from '../../src/state/rotation.js'
import {baseInventory, tmpDir, toYaml} from '../support/helpers.js'

const WG = '/etc/wireguard/wg0.conf'
const BLOCK = '# BEGIN beam-mesh wg0\n10.0.0.1 Host-A\n# END beam-mesh wg0\n'
const facts = (over: Partial<ApplyHostFacts> = {}): ApplyHostFacts => ({
  files: new Map([[WG, '[Interface]\n'], ['/etc/beam-mesh/env.sh', 'x'], ['/etc/beam-mesh/cookie', null]]),
  hosts: `127.0.0.1 localhost\n${BLOCK}# mine\n`,
  running: [],
  systemd: true,
  unitEnabled: true,
  ...over,
})
const PATHS = [WG, '/etc/beam-mesh/env.sh', '/etc/beam-mesh/cookie']

describe('teardown plan', () => {
  it('downs the interface, disables the unit, removes only present files and the block (user lines kept)', () => {
    const plan = planTeardown('Host-D', facts(), PATHS, 'wg0')
    assert.deepEqual(plan.steps.map((s) => s.kind), ['down', 'disable-unit', 'remove', 'remove', 'hosts'])
    const hosts = plan.steps.find((s) => s.kind === 'hosts')
    assert.equal(hosts?.kind === 'hosts' && hosts.after, '127.0.0.1 localhost\n# mine\n')
    assert.equal(
      describeTeardown(plan, 'wg0'),
      'teardown: wg-quick down wg0, systemctl disable wg-quick@wg0, remove /etc/wireguard/wg0.conf, remove /etc/beam-mesh/env.sh, remove the beam-mesh block from /etc/hosts',
    )
  })
  it('is empty on a clean host', () => {
    const clean = facts({files: new Map(PATHS.map((p) => [p, null])), hosts: '127.0.0.1 localhost\n', running: null, unitEnabled: false})
    const plan = planTeardown('Host-D', clean, PATHS, 'wg0')
    assert.deepEqual(plan.steps, [])
    assert.match(describeTeardown(plan, 'wg0'), /already torn down/)
  })
  it('unloads the firewall table when its file is there', () => {
    const f = facts({files: new Map([['/etc/beam-mesh/firewall.nft', 'x']])})
    const plan = planTeardown('H', f, ['/etc/beam-mesh/firewall.nft'], 'wg0', [{path: '/etc/beam-mesh/firewall.nft', table: 'beam_mesh'}])
    assert.ok(plan.steps.some((s) => s.kind === 'firewall'))
  })
  it('refuses a hosts file with a broken block rather than guessing', () => {
    assert.throws(() => planTeardown('H', facts({hosts: '# BEGIN beam-mesh wg0\n'}), PATHS, 'wg0'), /refusing to guess/)
  })
})

describe('peer delta (plan shows "peers: -Host-D")', () => {
  const conf = (peers: [string, string][]) => `[Interface]\nPrivateKey = x\n${peers.map(([n, k]) => `\n# ${n}\n[Peer]\nPublicKey = ${k}\n`).join('')}`
  const [ka, kb, kd, ka2, ke] = Array.from({length: 5}, () => publicKeyOf(generatePrivateKey()))
  it('names removed, added and re-keyed peers', () => {
    const d = peerDelta(conf([['Host-A', ka], ['Host-B', kb], ['Host-D', kd]]), conf([['Host-A', ka2], ['Host-B', kb], ['Host-E', ke]]))
    assert.deepEqual(d, {added: ['Host-E'], removed: ['Host-D'], rekeyed: ['Host-A']})
    assert.equal(describePeerDelta(d), 'peers: +Host-E -Host-D, new key: Host-A')
    assert.equal(describePeerDelta(peerDelta(conf([['Host-A', ka]]), conf([['Host-A', ka]]))), null)
  })
})

describe('rotation state machine', () => {
  function setup() {
    const dir = tmpDir()
    const inv = join(dir, 'inv.yaml')
    writeFileSync(inv, toYaml(baseInventory(3)))
    const first = loadMesh({inventoryFile: inv})
    return {inv, store: first.store, first}
  }
  it('pending key: used for the mesh, state keeps the committed key until commit', () => {
    const {inv, store, first} = setup()
    const old = first.mesh.hosts[0].publicKey
    const started = startKeyRotation(store, ['Host-A'])
    assert.deepEqual(started, {created: ['Host-A'], resumed: []})
    assert.equal(statSync(pendingFile(store.keyFile('Host-A'))).mode & 0o777, 0o600)
    const during = loadMesh({inventoryFile: inv})
    assert.deepEqual(during.pendingKeys, ['Host-A'])
    assert.notEqual(during.mesh.hosts[0].publicKey, old)
    const st = store.load().hosts['Host-A']
    assert.equal(st.publicKey, old)
    assert.equal(st.pendingPublicKey, during.mesh.hosts[0].publicKey)
    // Re-running resumes the same pending key, never a third one.
    assert.deepEqual(startKeyRotation(store, ['Host-A']), {created: [], resumed: ['Host-A']})
    assert.equal(loadMesh({inventoryFile: inv}).mesh.hosts[0].publicKey, during.mesh.hosts[0].publicKey)

    commitRotation(store, ['Host-A'], [])
    assert.ok(!existsSync(pendingFile(store.keyFile('Host-A'))))
    const after = loadMesh({inventoryFile: inv})
    assert.deepEqual(after.pendingKeys, [])
    assert.equal(after.mesh.hosts[0].publicKey, during.mesh.hosts[0].publicKey)
    assert.equal(store.load().hosts['Host-A'].publicKey, during.mesh.hosts[0].publicKey)
    assert.equal(store.load().hosts['Host-A'].pendingPublicKey, undefined)
    assert.deepEqual(after.notes, [])
  })
  it('a host without a key yet is not rotated (its first apply creates one)', () => {
    const {store} = setup()
    assert.deepEqual(startKeyRotation(store, ['Host-Z']), {created: [], resumed: []})
  })
})

describe('rotation order in apply', () => {
  // Two rotated hosts that switch at once can take each other's handshakes and both be left without a session
  // for 5 s (a CI run lost pings for that); and the connections close right after runLifecycle, so a nudge still
  // on its way never reaches its host.
  it("peers switch first, then the rotated hosts one at a time, each nudging its peers; it returns after the nudges", async () => {
    const dir = tmpDir()
    const inv = join(dir, 'inv.yaml')
    writeFileSync(inv, toYaml(baseInventory(4)))
    const first = loadMesh({inventoryFile: inv})
    const rotated = ['Host-A', 'Host-B', 'Host-C']
    startKeyRotation(first.store, rotated)
    const loaded = loadMesh({inventoryFile: inv})
    assert.deepEqual(loaded.pendingKeys, rotated)
    const events: string[] = []
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
    const sessions: HostSession[] = loaded.mesh.hosts.map((host) => {
      const remote = {
        // Each switch takes a while, the peer's longest: a rotated host must still wait for it, and for the other
        // rotated hosts' switches to end.
        syncconf: async () => {
          events.push(`${host.name} syncconf`)
          await sleep(rotated.includes(host.name) ? 20 : 60)
          events.push(`${host.name} switched`)
        },
        // The nudge's round trip is slower than everything else here, as a loaded host's can be.
        run: async (argv: string[]) => {
          await sleep(150)
          events.push(`${host.name} nudged ${argv.slice(4).join(' ')}`)
          return ''
        },
      }
      // Only a peer whose plan runs `wg syncconf` is waited for (signalled when it has run).
      return {host, remote: remote as unknown as RemoteHost, plan: {iface: {kind: 'syncconf'}} as HostPlan}
    })
    const execHosts = async (list: HostSession[]): Promise<HostResult[]> =>
      Promise.all(list.map(async (s) => {
        await s.remote!.syncconf(3)
        return {name: s.host.name, status: 'changed', files: [], iface: 'syncconf', disruptive: false, notes: []}
      }))
    const session = {loaded, sessions, teardowns: [], concurrency: 4, interrupted: false, close: async () => []} as ApplySession
    const result = await runLifecycle(session, execHosts, {step() {}})
    events.push('returned')
    assert.equal(result.rotation?.committed, true)
    assert.deepEqual(events.slice(0, 2), ['Host-D syncconf', 'Host-D switched'])
    const switches = events.filter((e) => / (syncconf|switched)$/.test(e)).slice(2)
    assert.deepEqual(switches, rotated.flatMap((h) => [`${h} syncconf`, `${h} switched`]), 'one rotated host at a time')
    const ipsBut = (name: string) => loaded.mesh.hosts.filter((h) => h.name !== name).map((h) => h.ipv4).join(' ')
    const nudged = events.filter((e) => e.includes(' nudged '))
    assert.deepEqual(nudged.sort(), rotated.map((h) => `${h} nudged ${ipsBut(h)}`))
    assert.equal(events.at(-1), 'returned')
  })
})
