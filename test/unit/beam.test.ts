// BEAM artifacts: rendered content per naming/EPMD mode, the cookie's form and lifecycle, and that the
// cookie never reaches init's output folder, stdout or --json. Real erl/nft checks: beam-runtime.test.ts.
import assert from 'node:assert/strict'
import {chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {COOKIE_LENGTH, beamExtraFiles, elixirInteger, erlangIpTuple, isCookie, makeCookie, nodeName} from '../../src/core/beam.js'
import {beamPaths} from '../../src/core/beam-paths.js'
import {UserError} from '../../src/core/errors.js'
import {cookieFile, loadMesh} from '../../src/services/mesh.js'
import {runInit} from '../../src/services/init.js'
import {baseInventory, tmpDir, toYaml} from '../support/helpers.js'
import {allFiles, filesOf, meshOf} from '../support/beam.js'

const COOKIE = 'Q'.repeat(COOKIE_LENGTH)
const BEAM_PATHS = beamPaths('wg0')

describe('BEAM artifacts: sname mode (default), dual stack', () => {
  const mesh = meshOf(baseInventory())
  const host = mesh.hosts[0]
  const files = filesOf(mesh, host, COOKIE)

  it('renders the cookie, env.sh, vm.args and libcluster.exs; no firewall unless asked', () => {
    assert.deepEqual(Object.keys(files).sort(), [BEAM_PATHS.cookie, BEAM_PATHS.envSh, BEAM_PATHS.libcluster, BEAM_PATHS.vmArgs].sort())
    const cookie = beamExtraFiles(mesh, COOKIE)(host).find((f) => f.path === BEAM_PATHS.cookie)!
    assert.deepEqual([cookie.content, cookie.mode, cookie.secret], [`${COOKIE}\n`, 0o600, true])
  })
  it('names the node exactly after the hostname, and EPMD binds to the WireGuard addresses', () => {
    const env = files[BEAM_PATHS.envSh]
    assert.match(env, /^export RELEASE_DISTRIBUTION=sname$/m)
    assert.match(env, /^export RELEASE_NODE=app@Host-A$/m)
    assert.match(env, /^export ERL_EPMD_ADDRESS=10\.77\.0\.1,fd77:77::1$/m)
    assert.match(env, /^RELEASE_COOKIE="\$\(cat \/etc\/beam-mesh\/wg0\/cookie\)" \|\| \{$/m)
    assert.match(env, /-args_file \/etc\/beam-mesh\/wg0\/vm\.args"$/m)
    assert.ok(!env.includes(COOKIE), 'no cleartext cookie in env.sh')
  })
  it('vm.args pins the interface and the port range, and has no name and no cookie', () => {
    const args = files[BEAM_PATHS.vmArgs].split('\n').filter((l) => l && !l.startsWith('#'))
    assert.deepEqual(args, ['-kernel inet_dist_use_interface {10,77,0,1}', '-kernel inet_dist_listen_min 9100 inet_dist_listen_max 9105'])
  })
  it('libcluster lists every node, quoted, with a finite retry timeout', () => {
    const lc = files[BEAM_PATHS.libcluster]
    assert.match(lc, /^import Config$/m)
    assert.match(lc, /strategy: Cluster\.Strategy\.Epmd,/)
    assert.match(lc, /hosts: \[\n {10}:"app@Host-A",\n {10}:"app@Host-B",\n {10}:"app@Host-C"\n {8}\],\n {8}timeout: 30_000\n/)
    assert.equal(filesOf(mesh, mesh.hosts[2], COOKIE)[BEAM_PATHS.libcluster], lc, 'the same on every host')
  })
})

describe('BEAM artifacts: other modes', () => {
  it('naming: name uses the WireGuard IPv4 address everywhere', () => {
    const mesh = meshOf({...baseInventory(), beam: {naming: 'name', nodeBasename: 'web'}})
    const f = filesOf(mesh, mesh.hosts[1], COOKIE)
    assert.match(f[BEAM_PATHS.envSh], /^export RELEASE_DISTRIBUTION=name\nexport RELEASE_NODE=web@10\.77\.0\.2$/m)
    assert.match(f[BEAM_PATHS.libcluster], /:"web@10\.77\.0\.1",\n {10}:"web@10\.77\.0\.2",\n {10}:"web@10\.77\.0\.3"\n/)
    assert.match(f[BEAM_PATHS.vmArgs], /^-kernel inet_dist_use_interface \{10,77,0,2\}$/m)
  })
  it('beam.epmd: false starts no EPMD, listens and dials on one fixed port', () => {
    const mesh = meshOf({...baseInventory(), beam: {epmd: false, distPortMin: 9200, distPortMax: 9200, firewall: true}})
    const f = filesOf(mesh, mesh.hosts[0], COOKIE)
    const args = f[BEAM_PATHS.vmArgs].split('\n').filter((l) => l && !l.startsWith('#'))
    assert.deepEqual(args, [
      '-kernel inet_dist_use_interface {10,77,0,1}',
      '-kernel inet_dist_listen_min 9200 inet_dist_listen_max 9200',
      '-start_epmd false',
      '-erl_epmd_port 9200',
    ])
    assert.match(f[BEAM_PATHS.envSh], /^export ERL_EPMD_ADDRESS=10\.77\.0\.1,fd77:77::1$/m, 'bounds any EPMD started by mistake')
    assert.match(f[BEAM_PATHS.envSh], /ELIXIR_ERL_OPTIONS:-\} -dist_listen false -start_epmd false -erl_epmd_port 9200"$/m)
    assert.match(f[BEAM_PATHS.firewall], /tcp dport \{ 9200 \} drop/)
    assert.doesNotMatch(f[BEAM_PATHS.firewall], /4369/)
  })
  it('an IPv6-only mesh uses the 8-word tuple and inet6_tcp', () => {
    const raw = baseInventory()
    delete raw.network.ipv4
    const mesh = meshOf(raw)
    const f = filesOf(mesh, mesh.hosts[0], COOKIE)
    assert.match(f[BEAM_PATHS.vmArgs], /^-kernel inet_dist_use_interface \{64887,119,0,0,0,0,0,1\}$/m)
    assert.match(f[BEAM_PATHS.vmArgs], /^-proto_dist inet6_tcp$/m)
    assert.match(f[BEAM_PATHS.envSh], /^export ERL_EPMD_ADDRESS=fd77:77::1$/m)
    assert.equal(erlangIpTuple('::1'), '{0,0,0,0,0,0,0,1}')
  })
  it('the firewall opens the ports on lo and the tunnel from mesh CIDRs only, drops them elsewhere', () => {
    const mesh = meshOf({...baseInventory(), beam: {firewall: true}})
    const fw = beamExtraFiles(mesh, COOKIE)(mesh.hosts[0]).find((x) => x.path === BEAM_PATHS.firewall)!
    assert.deepEqual(fw.activate, ['nft', '-f', BEAM_PATHS.firewall])
    const rules = fw.content.split('\n').filter((l) => l && !/^\s*#/.test(l)).map((l) => l.trim())
    assert.deepEqual(rules.slice(0, 3), ['add table inet beam_mesh_wg0', 'delete table inet beam_mesh_wg0', 'table inet beam_mesh_wg0 {'])
    assert.deepEqual(rules.slice(4, 9), [
      'type filter hook input priority filter - 1; policy accept;',
      'iifname "lo" tcp dport { 4369, 9100-9105 } accept',
      'iifname "wg0" ip saddr 10.77.0.0/24 tcp dport { 4369, 9100-9105 } accept',
      'iifname "wg0" ip6 saddr fd77:77::/64 tcp dport { 4369, 9100-9105 } accept',
      'tcp dport { 4369, 9100-9105 } drop',
    ])
  })
  it('node names follow the mode', () => {
    const mesh = meshOf(baseInventory())
    assert.deepEqual(mesh.hosts.map((h) => nodeName(mesh, h)), ['app@Host-A', 'app@Host-B', 'app@Host-C'])
  })
})

describe('the cookie', () => {
  it('is 48 letters and digits from the CSPRNG, starting with a letter, different every time', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const c = makeCookie()
      assert.match(c, /^[A-Za-z][A-Za-z0-9]{47}$/)
      assert.ok(isCookie(c))
      seen.add(c)
    }
    assert.equal(seen.size, 200)
  })
  it('skips bytes that would bias the alphabet (rejection sampling)', () => {
    // 255 >= 208 (4*52) and >= 248 (4*62): always rejected; 0 -> 'A', 61 -> '9'.
    const bytes = [255, 0, 255, 61, ...Array(62).fill(1)]
    const c = makeCookie((n) => Uint8Array.from(bytes.slice(0, n)))
    assert.equal(c.slice(0, 3), 'A9B')
    assert.equal(c.length, COOKIE_LENGTH)
  })
  it('is created once, 0600, in the state dir, and never regenerated', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'inv.yaml'), toYaml(baseInventory()))
    const first = loadMesh({inventoryFile: join(dir, 'inv.yaml')})
    const file = cookieFile(first.store)
    assert.equal(file, join(first.store.dir, 'secrets', 'cookie'))
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(readFileSync(file, 'utf8'), `${first.cookie}\n`)
    assert.ok(first.createdCookie)
    const again = loadMesh({inventoryFile: join(dir, 'inv.yaml')})
    assert.deepEqual([again.cookie, again.createdCookie], [first.cookie, false])
    writeFileSync(file, 'short\n')
    chmodSync(file, 0o600)
    assert.throws(() => loadMesh({inventoryFile: join(dir, 'inv.yaml')}), (e: unknown) => e instanceof UserError && /32-255 letters/.test(e.message))
  })
  it('is not created by a read-only load', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'inv.yaml'), toYaml(baseInventory()))
    const file = cookieFile(loadMesh({inventoryFile: join(dir, 'inv.yaml')}).store)
    rmSync(file)
    assert.throws(() => loadMesh({inventoryFile: join(dir, 'inv.yaml'), persist: false}), (e: unknown) => e instanceof UserError && /no BEAM cookie/.test(e.message))
    assert.ok(!existsSync(file))
  })
  it('init writes the BEAM files per host but not the cookie', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'inv.yaml'), toYaml({...baseInventory(), beam: {firewall: true}}))
    const r = runInit({inventoryFile: join(dir, 'inv.yaml'), outDir: join(dir, 'out')})
    const cookie = readFileSync(join(r.stateDir, 'secrets', 'cookie'), 'utf8').trim()
    const out = allFiles(join(dir, 'out'))
    for (const name of ['env.sh', 'vm.args', 'libcluster.exs', 'firewall.nft']) assert.ok(out.includes(join(dir, 'out', 'Host-B', name)), name)
    assert.ok(!out.some((p) => p.endsWith('/cookie')))
    for (const p of out) assert.ok(!readFileSync(p, 'utf8').includes(cookie), `${p} holds the cookie`)
    assert.ok(!JSON.stringify(r).includes(cookie))
  })
})

describe('elixirInteger', () => {
  it('groups digits by three with underscores, as Elixir writes integer literals', () => {
    assert.deepEqual([0, 7, 999, 1000, 30000, 123456, 1234567].map(elixirInteger), ['0', '7', '999', '1_000', '30_000', '123_456', '1_234_567'])
  })
})
