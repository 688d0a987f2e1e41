import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {beamExtraFiles} from '../../src/core/beam.js'
import {LEGACY_PATHS, beamManaged, beamPaths} from '../../src/core/beam-paths.js'
import {desiredState} from '../../src/core/desired.js'
import {parseInventory} from '../../src/core/inventory.js'
import {buildMesh, HostAssignment} from '../../src/core/model.js'
import {ApplyHostFacts, rollbackFacts, isNoop, planHost} from '../../src/core/plan.js'
import {classifyWgChange, redactSecrets} from '../../src/core/wgconf.js'
import {generatePrivateKey, publicKeyOf} from '../../src/core/wgkeys.js'
import {parseAllowedIps, parseFactsOutput} from '../../src/remote/apply-facts.js'
import {plainStyle, renderHostPlan} from '../../src/ui/plan.js'

const INV = `
network: {interface: wg0, ipv4: 10.77.0.0/24}
hosts:
  - {name: Host-A, endpoint: 198.18.0.10}
  - {name: Host-B, endpoint: 198.18.0.11}
  - {name: Host-C, endpoint: 198.18.0.12}
`
const keys = new Map(['Host-A', 'Host-B', 'Host-C', 'Host-D'].map((n) => [n, generatePrivateKey()]))

function meshOf(text: string) {
  const inv = parseInventory(text, 'test.yaml')
  const assignments = new Map<string, HostAssignment>(
    inv.hosts.map((h, i) => [h.name, {ipv4: `10.77.0.${i + 1}`, publicKey: publicKeyOf(keys.get(h.name)!)}]),
  )
  const mesh = buildMesh(inv, assignments)
  return {mesh, desired: desiredState(mesh, {privateKeys: keys})}
}

const COOKIE = 'C'.repeat(48)
const meshWithBeam = (beam: Record<string, unknown>) => meshOf(`${INV}beam: ${JSON.stringify(beam)}\n`).mesh

/** Facts of a host on which `desired` was applied and is running. */
function appliedFacts(d: ReturnType<typeof meshOf>['desired'][number], mesh: ReturnType<typeof meshOf>['mesh']): ApplyHostFacts {
  return {
    files: new Map([[d.wgConfig.path, d.wgConfig.content]]),
    hosts: `127.0.0.1\tlocalhost\n${d.hostsBlock}`,
    running: mesh.hosts.filter((h) => h.name !== d.host.name).map((h) => ({publicKey: h.publicKey, allowedIps: [`${h.ipv4}/32`]})),
    systemd: false,
    unitEnabled: false,
  }
}

describe('planHost', () => {
  const {mesh, desired} = meshOf(INV)
  const a = desired[0]

  it('plans config, hosts block and wg-quick up on a fresh host', () => {
    const plan = planHost(a, {files: new Map(), hosts: '127.0.0.1 localhost\n', running: null, systemd: true, unitEnabled: false}, 'wg0')
    assert.deepEqual(plan.files.map((f) => [f.path, f.kind]), [['/etc/hosts', 'update'], ['/etc/wireguard/wg0.conf', 'create']])
    assert.equal(plan.iface.kind, 'up')
    assert.equal(plan.enableUnit, true)
    assert.ok(plan.files[0].after.startsWith('127.0.0.1 localhost\n# BEGIN beam-mesh wg0\n'))
  })

  it('is a no-op when everything is in place', () => {
    const plan = planHost(a, appliedFacts(a, mesh), 'wg0')
    assert.equal(isNoop(plan), true)
  })

  it('uses syncconf (hitless) when only peers change', () => {
    const grown = meshOf(`${INV}  - {name: Host-D, endpoint: 198.18.0.13}\n`)
    const plan = planHost(grown.desired[0], appliedFacts(a, mesh), 'wg0')
    assert.equal(plan.iface.kind, 'syncconf')
    assert.equal(plan.disruptive, false)
    assert.deepEqual(plan.files.map((f) => f.path).sort(), ['/etc/hosts', '/etc/wireguard/wg0.conf'])
  })

  it('restarts (disruptive) when the Address changes', () => {
    const facts = appliedFacts(a, mesh)
    const plan = planHost({...a, wgConfig: {...a.wgConfig, content: a.wgConfig.content.replace('10.77.0.1/24', '10.77.0.9/24')}}, facts, 'wg0')
    assert.equal(plan.iface.kind, 'restart')
    assert.equal(plan.disruptive, true)
    assert.match((plan.iface as {reason: string}).reason, /address/)
  })

  it('repairs drift of the running interface with syncconf', () => {
    const facts = appliedFacts(a, mesh)
    facts.running = facts.running!.slice(1)
    const plan = planHost(a, facts, 'wg0')
    assert.equal(plan.files.length, 0)
    assert.equal(plan.iface.kind, 'syncconf')
    assert.match((plan.iface as {reason: string}).reason, /1 missing/)
  })

  it('brings a down interface up even when the files are in place', () => {
    const facts = appliedFacts(a, mesh)
    facts.running = null
    assert.equal(planHost(a, facts, 'wg0').iface.kind, 'up')
  })

  it('refuses an /etc/hosts with a lone marker', () => {
    const facts = appliedFacts(a, mesh)
    facts.hosts = '127.0.0.1 localhost\n# BEGIN beam-mesh wg0\n'
    assert.throws(() => planHost(a, facts, 'wg0'), /refusing to guess/)
  })
})

describe('wg config helpers', () => {
  it('classifies changes', () => {
    const base = '[Interface]\nAddress = 10.0.0.1/24\nPrivateKey = x\nListenPort = 1\n\n[Peer]\nPublicKey = p\nAllowedIPs = 10.0.0.2/32\n'
    assert.equal(classifyWgChange(base, base), 'none')
    assert.equal(classifyWgChange(null, base), 'interface')
    assert.equal(classifyWgChange(base, base.replace('ListenPort = 1', 'ListenPort = 2')), 'peers')
    assert.equal(classifyWgChange(base, base.replace('10.0.0.2/32', '10.0.0.3/32')), 'peers')
    assert.equal(classifyWgChange(base, base.replace('Address = 10.0.0.1/24', 'Address = 10.0.0.1/24\nMTU = 1300')), 'interface')
  })

  it('redacts private and preshared keys', () => {
    const out = redactSecrets('PrivateKey = abc=\nPresharedKey = def=\nPublicKey = ghi=\n')
    assert.equal(out, 'PrivateKey = (secret)\nPresharedKey = (secret)\nPublicKey = ghi=\n')
  })
})

describe('facts parsing', () => {
  it('parses files (base64, any byte), hosts, running peers and systemd', () => {
    const hosts = Buffer.from([0x31, 0x32, 0x37, 0x20, 0xe9, 0x0a])
    const out = [
      '@@beam-mesh file /etc/wireguard/wg0.conf',
      Buffer.from('[Interface]\n').toString('base64'),
      '@@beam-mesh end',
      '@@beam-mesh hosts',
      hosts.toString('base64'),
      '@@beam-mesh end',
      '@@beam-mesh wg',
      'AAA=\t10.0.0.2/32 fd00::2/128',
      'BBB=\t(none)',
      '@@beam-mesh end',
      '@@beam-mesh systemd enabled',
      '',
    ].join('\n')
    const f = parseFactsOutput(out, ['/etc/wireguard/wg0.conf', '/etc/beam-mesh/vm.args'])
    assert.equal(f.files.get('/etc/wireguard/wg0.conf'), '[Interface]\n')
    assert.equal(f.files.get('/etc/beam-mesh/vm.args'), null)
    assert.deepEqual(Buffer.from(f.hosts, 'latin1'), hosts)
    assert.deepEqual(f.running, [
      {publicKey: 'AAA=', allowedIps: ['10.0.0.2/32', 'fd00::2/128']},
      {publicKey: 'BBB=', allowedIps: []},
    ])
    assert.equal(f.systemd, true)
    assert.equal(f.unitEnabled, true)
  })

  it('reports a down interface as null and no systemd', () => {
    const f = parseFactsOutput('@@beam-mesh hosts\n@@beam-mesh end\n', [])
    assert.equal(f.running, null)
    assert.equal(f.systemd, false)
    assert.equal(f.hosts, '')
    assert.deepEqual(parseAllowedIps(['', 'K=\t10.1.1.1/32']), [{publicKey: 'K=', allowedIps: ['10.1.1.1/32']}])
  })
})

describe('planHost: managed files (retired files, owner and mode)', () => {
  const BEAM_PATHS = beamPaths('wg0')
  const mesh = meshWithBeam({firewall: true, user: 'nobody'})
  const host = mesh.hosts[0]
  const files = (m: typeof mesh) => beamExtraFiles(m, COOKIE)(m.hosts[0])
  const desiredOf = (m: typeof mesh) => desiredState(m, {privateKeys: keys, extraFiles: (h) => beamExtraFiles(m, COOKIE)(h), managed: beamManaged(m.interface)})[0]
  /** A host on which `m` was applied: every file present with its desired owner and mode. */
  function applied(m: typeof mesh): ApplyHostFacts {
    const d = desiredOf(m)
    const all = [d.wgConfig, ...d.extraFiles]
    return {
      files: new Map(all.map((f) => [f.path, f.content])),
      meta: new Map(all.map((f) => [f.path, {owner: f.owner ?? 'root', mode: f.mode}])),
      hosts: `127.0.0.1\tlocalhost\n${d.hostsBlock}`,
      running: m.hosts.filter((h) => h.name !== host.name).map((h) => ({publicKey: h.publicKey, allowedIps: [`${h.ipv4}/32`]})),
      systemd: false,
      unitEnabled: false,
    }
  }

  it('gives the cookie to beam.user (0400); env.sh and vm.args stay root 0644', () => {
    const byPath = new Map(files(mesh).map((f) => [f.path, f]))
    assert.deepEqual([byPath.get(BEAM_PATHS.cookie)!.owner, byPath.get(BEAM_PATHS.cookie)!.mode], ['nobody', 0o400])
    for (const p of [BEAM_PATHS.envSh, BEAM_PATHS.vmArgs]) assert.deepEqual([byPath.get(p)!.owner, byPath.get(p)!.mode], [undefined, 0o644])
    const plain = files(meshWithBeam({})).find((f) => f.path === BEAM_PATHS.cookie)!
    assert.deepEqual([plain.owner, plain.mode], [undefined, 0o600])
  })

  it('validates beam.user like ssh.user', () => {
    assert.throws(() => meshWithBeam({user: 'Deploy'}), (e: Error) => /beam\.user: must be a Unix user name/.test(e.message) || assert.fail(e.message))
    assert.equal(meshWithBeam({user: 'deploy_1'}).beam.user, 'deploy_1')
  })

  it('is a no-op when content, owner and mode all match (firewall, beam.user)', () => {
    assert.equal(isNoop(planHost(desiredOf(mesh), applied(mesh), 'wg0')), true)
  })

  it('plans a changed owner (and mode) as an update with the same content, keeping the old ones for rollback', () => {
    const facts = applied(meshWithBeam({firewall: true}))
    const plan = planHost(desiredOf(mesh), facts, 'wg0')
    assert.deepEqual(plan.files.map((f) => [f.path, f.kind]), [[BEAM_PATHS.cookie, 'update']])
    const [c] = plan.files
    assert.equal(c.before, c.after)
    assert.deepEqual([c.owner, c.mode, c.beforeMeta], ['nobody', 0o400, {owner: 'root', mode: 0o600}])
    assert.equal(plan.iface.kind, 'none')
    assert.match(renderHostPlan(plan, plainStyle, true).join('\n'), /~ \/etc\/beam-mesh\/wg0\/cookie \(owner root -> nobody, mode 0600 -> 0400\)/)
  })

  it('fixes a drifted mode, also on the wg config, without touching the interface', () => {
    const facts = applied(mesh)
    facts.meta!.set('/etc/wireguard/wg0.conf', {owner: 'root', mode: 0o644})
    const plan = planHost(desiredOf(mesh), facts, 'wg0')
    assert.deepEqual(plan.files.map((f) => [f.path, f.kind, f.mode]), [['/etc/wireguard/wg0.conf', 'update', 0o600]])
    assert.equal(plan.iface.kind, 'none')
  })

  it('retires the firewall when beam.firewall goes off: delete + unload the table, shown in the plan', () => {
    const off = meshWithBeam({user: 'nobody'})
    const plan = planHost(desiredOf(off), applied(mesh), 'wg0')
    assert.deepEqual(plan.files.map((f) => [f.path, f.kind]), [[BEAM_PATHS.firewall, 'delete']])
    const [del] = plan.files
    assert.deepEqual(del.deactivate, ['nft', 'add table inet beam_mesh_wg0; delete table inet beam_mesh_wg0'])
    assert.deepEqual(del.activate, ['nft', '-f', BEAM_PATHS.firewall], 'to reload it on rollback')
    assert.deepEqual([del.before, del.mode], [files(mesh).find((f) => f.path === BEAM_PATHS.firewall)!.content, 0o644])
    const text = renderHostPlan(plan, plainStyle, true).join('\n')
    assert.match(text, /^ {2}- \/etc\/beam-mesh\/wg0\/firewall\.nft \(no longer managed\)$/m)
    assert.match(text, /^ {2}> nft 'add table inet beam_mesh_wg0; delete table inet beam_mesh_wg0' \(undo its activation\)$/m)
    assert.ok(!text.includes('table inet beam_mesh_wg0 {'), 'no content of the retired file')
  })

  it('retires nothing that is absent, and never the desired files', () => {
    const off = meshWithBeam({user: 'nobody'})
    assert.equal(isNoop(planHost(desiredOf(off), applied(off), 'wg0')), true)
    const d = desiredOf(mesh)
    assert.ok(d.managed.some((m) => m.path === BEAM_PATHS.firewall) && d.extraFiles.some((f) => f.path === BEAM_PATHS.firewall))
  })

  /** A host carrying the single layout of earlier versions, written for the mesh on `iface`. */
  function legacy(m: typeof mesh, iface: string): ApplyHostFacts {
    const f = applied(m)
    for (const [k, path] of Object.entries(LEGACY_PATHS)) f.files.set(path, k === 'vmArgs' ? `## Distribution listens only on this host's ${iface} address, never on the public side.\n` : 'old\n')
    for (const d of desiredOf(m).extraFiles) f.files.delete(d.path)
    return f
  }

  it("migrates the single layout of its own interface: new files written, old ones and table inet beam_mesh retired", () => {
    const plan = planHost(desiredOf(mesh), legacy(mesh, 'wg0'), 'wg0')
    const kinds = plan.files.map((f) => [f.path, f.kind])
    for (const p of Object.values(BEAM_PATHS)) assert.ok(kinds.some(([path, k]) => path === p && k === 'create'), p)
    for (const p of Object.values(LEGACY_PATHS)) assert.ok(kinds.some(([path, k]) => path === p && k === 'delete'), p)
    const oldFw = plan.files.find((f) => f.path === LEGACY_PATHS.firewall)!
    assert.deepEqual(oldFw.deactivate, ['nft', 'add table inet beam_mesh; delete table inet beam_mesh'])
    assert.match(renderHostPlan(plan, plainStyle, true).join('\n'), /^ {2}- \/etc\/beam-mesh\/cookie \(no longer managed\)$/m)
  })

  it("leaves another interface's single layout alone (the mesh on wg9 never retires wg0's files)", () => {
    const plan = planHost(desiredOf(mesh), legacy(mesh, 'wg9'), 'wg0')
    assert.deepEqual(plan.files.filter((f) => f.kind === 'delete'), [])
    assert.ok(plan.files.every((f) => !Object.values(LEGACY_PATHS).includes(f.path)))
  })
})

describe('facts parsing: owner and mode', () => {
  it('reads stat lines (owner, octal mode, path) of present files', () => {
    const out = ['@@beam-mesh file /etc/beam-mesh/cookie', Buffer.from('x\n').toString('base64'), '@@beam-mesh end', '@@beam-mesh meta nobody 400 /etc/beam-mesh/cookie', '@@beam-mesh hosts', '@@beam-mesh end', ''].join('\n')
    const f = parseFactsOutput(out, ['/etc/beam-mesh/cookie', '/etc/beam-mesh/firewall.nft'])
    assert.deepEqual(f.meta?.get('/etc/beam-mesh/cookie'), {owner: 'nobody', mode: 0o400})
    assert.equal(f.meta?.has('/etc/beam-mesh/firewall.nft'), false)
  })
})

describe('drift of the running interface', () => {
  const {mesh, desired} = meshOf(INV)
  const a = desired[0]

  it('re-syncs when the running keepalive differs from the config (a sync lost mid-apply)', () => {
    const withKa = {...a, wgConfig: {...a.wgConfig, content: a.wgConfig.content.replace(/(AllowedIPs = .*)/g, '$1\nPersistentKeepalive = 22')}}
    const facts = appliedFacts(withKa, mesh)
    facts.running = facts.running!.map((p) => ({...p, keepalive: 21}))
    const plan = planHost(withKa, facts, 'wg0')
    assert.equal(plan.files.length, 0)
    assert.equal(plan.iface.kind, 'syncconf')
    assert.match((plan.iface as {reason: string}).reason, /2 with other allowed IPs or keepalive/)
    facts.running = facts.running.map((p) => ({...p, keepalive: 22}))
    assert.equal(isNoop(planHost(withKa, facts, 'wg0')), true)
  })

  it('re-syncs when the running listen port differs, and ignores facts without keepalive', () => {
    const facts = appliedFacts(a, mesh)
    assert.equal(isNoop(planHost(a, facts, 'wg0')), true)
    facts.runningListenPort = 51999
    const plan = planHost(a, facts, 'wg0')
    assert.match((plan.iface as {reason: string}).reason, /listening on 51999, not 51820/)
  })
})

describe('keepalive facts', () => {
  it('parses wg show persistent-keepalive and the listen port', () => {
    const out = ['@@beam-mesh hosts', '@@beam-mesh end', '@@beam-mesh wg', 'AAA=\t10.0.0.2/32', 'BBB=\t10.0.0.3/32', '@@beam-mesh end',
      '@@beam-mesh keepalive', 'AAA=\t25', 'BBB=\toff', '@@beam-mesh end', '@@beam-mesh port 51820', ''].join('\n')
    const f = parseFactsOutput(out, [])
    assert.deepEqual(f.running, [
      {publicKey: 'AAA=', allowedIps: ['10.0.0.2/32'], keepalive: 25},
      {publicKey: 'BBB=', allowedIps: ['10.0.0.3/32'], keepalive: 0},
    ])
    assert.equal(f.runningListenPort, 51820)
  })
})

describe('activation not in effect', () => {
  const {mesh, desired} = meshOf(INV)
  const fw = {path: '/etc/beam-mesh/firewall.nft', content: 'table inet beam_mesh {}\n', mode: 0o644, secret: false, activate: ['nft', '-f', '/etc/beam-mesh/firewall.nft'], isActive: ['nft', 'list', 'table', 'inet', 'beam_mesh']}
  const d = {...desired[0], extraFiles: [fw]}

  it('re-activates an unchanged file whose activation is gone (a reboot dropped the nft table)', () => {
    const facts = appliedFacts(d, mesh)
    facts.files.set(fw.path, fw.content)
    assert.equal(isNoop(planHost(d, facts, 'wg0')), true)
    facts.inactive = new Set([fw.path])
    const plan = planHost(d, facts, 'wg0')
    assert.equal(plan.files.length, 0)
    assert.deepEqual(plan.reactivate, [{path: fw.path, activate: fw.activate}])
    assert.equal(isNoop(plan), false)
  })

  it('does not re-activate separately when the file changes anyway (the write activates it)', () => {
    const facts = appliedFacts(d, mesh)
    facts.files.set(fw.path, 'old\n')
    facts.inactive = new Set([fw.path])
    const plan = planHost(d, facts, 'wg0')
    assert.deepEqual(plan.files.map((f) => f.path), [fw.path])
    assert.deepEqual(plan.reactivate, [])
  })
})

describe('rollbackFacts: all a planned host keeps of its facts', () => {
  const {mesh, desired} = meshOf(INV)
  const a = desired[0]
  const cookiePath = beamPaths('wg0').cookie

  it('a no-op host keeps no file contents (nothing to write, nothing to roll back)', () => {
    const facts = {...appliedFacts(a, mesh), files: new Map([[a.wgConfig.path, a.wgConfig.content], [cookiePath, null]])}
    const plan = planHost(a, facts, 'wg0')
    assert.ok(isNoop(plan))
    const kept = rollbackFacts(facts, plan, a.wgConfig.path)
    assert.deepEqual(kept, {wasUp: true, files: new Map()}, 'only that the interface was up: a rollback needs it')
  })

  it('keeps the files the plan changes, and the wg config whenever the interface is touched', () => {
    // Another host's config in place: the config changes (interface restart); an unmanaged file's content is dropped.
    const facts = {...appliedFacts(a, mesh), files: new Map<string, string | null>([[a.wgConfig.path, desired[1].wgConfig.content], ['/etc/beam-mesh/wg0/env.sh', 'x']])}
    const plan = planHost(a, facts, 'wg0')
    assert.equal(plan.iface.kind, 'restart')
    const kept = rollbackFacts(facts, plan, a.wgConfig.path)
    assert.deepEqual([...kept.files], [[a.wgConfig.path, desired[1].wgConfig.content]])
    // Drift only (file unchanged, running peers differ): syncconf, and the config is kept for the rollback.
    const drift = {...appliedFacts(a, mesh), running: []}
    const driftPlan = planHost(a, drift, 'wg0')
    assert.equal(driftPlan.iface.kind, 'syncconf')
    assert.equal(driftPlan.files.length, 0)
    assert.deepEqual([...rollbackFacts(drift, driftPlan, a.wgConfig.path).files.keys()], [a.wgConfig.path])
  })
})
