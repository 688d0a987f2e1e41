// `mesh init` through the real CLI (dist/ must be built: `npm test` builds first).
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {tmpDir} from '../support/helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const EXAMPLE = join(ROOT, 'inventory', 'example.yaml')

function mesh(...args: string[]) {
  const res = spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  return {code: res.status, stdout: res.stdout, stderr: res.stderr}
}

/** path -> bytes, mode, mtime and inode of every entry under dir: what "nothing changed" means. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of readdirSync(dir, {recursive: true, withFileTypes: true})) {
    const p = join(e.parentPath, e.name)
    const st = statSync(p, {bigint: true})
    const content = e.isFile() ? readFileSync(p).toString('base64') : 'dir'
    out.set(relative(dir, p), `${(st.mode & 0o777n).toString(8)} ${st.mtimeNs} ${st.ino} ${content}`)
  }
  return out
}

function setup(inventory = readFileSync(EXAMPLE, 'utf8')) {
  const dir = tmpDir()
  const inv = join(dir, 'fleet.yaml')
  writeFileSync(inv, inventory)
  return {dir, inv, state: join(dir, '.mesh', 'fleet'), out: join(dir, 'out', 'fleet')}
}

const modeOf = (p: string) => statSync(p).mode & 0o777
const keysOf = (state: string) => Object.fromEntries(readdirSync(join(state, 'keys')).map((f) => [f, readFileSync(join(state, 'keys', f), 'utf8')]))

describe('mesh init (CLI)', () => {
  it('prints a summary, then reports no change on a re-run', () => {
    const {inv, state, out} = setup()
    const first = mesh('init', '-i', inv)
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /^3 hosts on wg0:/)
    assert.match(first.stdout, /Host-A\s+10\.77\.0\.1, fd77:77::1\s+endpoint 203\.0\.113\.10/)
    assert.match(first.stdout, /Host-C\s+10\.77\.0\.30, fd77:77::3/)
    assert.match(first.stdout, /keys: created for Host-A, Host-B, Host-C/)
    assert.ok(first.stdout.includes(`state:  ${state}`))
    assert.match(first.stdout, new RegExp(`output: ${out} \\(\\d+ files written\\)`))
    const second = mesh('init', '-i', inv)
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stdout, /keys: all existed, none changed/)
    assert.ok(second.stdout.includes(`output: ${out} (unchanged)`))
  })

  it('--json is the typed result, holds no private key, and a re-run changes no byte, mode or mtime', () => {
    const {dir, inv, state, out} = setup()
    const first = mesh('init', '-i', inv, '--json')
    assert.equal(first.code, 0, first.stderr)
    const r = JSON.parse(first.stdout)
    assert.equal(r.stateDir, state)
    assert.equal(r.outDir, out)
    assert.deepEqual(r.createdKeys, ['Host-A', 'Host-B', 'Host-C'])
    assert.deepEqual(r.hosts.map((h: {name: string; ipv4: string}) => [h.name, h.ipv4]), [['Host-A', '10.77.0.1'], ['Host-B', '10.77.0.2'], ['Host-C', '10.77.0.30']])
    for (const f of ['.mesh/fleet/state.json', 'out/fleet/hosts.block', 'out/fleet/Host-A/wg0.conf', 'out/fleet/Host-B/wg0.conf', 'out/fleet/Host-C/wg0.conf']) {
      assert.ok(r.written.includes(join(dir, f)), `${f} is listed as written`)
    }
    const privateKeys = Object.values(keysOf(state)).map((k) => k.trim())
    assert.equal(privateKeys.length, 3)
    // Every secret the state holds (keys, and whatever lives in secrets/, e.g. the cookie) stays out of the output.
    const secretsDir = join(state, 'secrets')
    const others = existsSync(secretsDir) ? readdirSync(secretsDir).map((f) => readFileSync(join(secretsDir, f), 'utf8').trim()) : []
    const secrets = [...privateKeys, ...others]
    for (const k of secrets) assert.ok(!first.stdout.includes(k) && !first.stderr.includes(k), 'a secret leaked into the output')
    for (const k of privateKeys) {
      assert.ok(!first.stdout.includes(k) && !first.stderr.includes(k), 'a private key leaked into the output')
      assert.ok(readFileSync(join(out, 'Host-A', 'wg0.conf'), 'utf8').includes(k) || readFileSync(join(out, 'Host-B', 'wg0.conf'), 'utf8').includes(k) || readFileSync(join(out, 'Host-C', 'wg0.conf'), 'utf8').includes(k))
    }
    const before = snapshot(dir)
    const second = mesh('init', '-i', inv, '--json')
    assert.equal(second.code, 0, second.stderr)
    const r2 = JSON.parse(second.stdout)
    assert.deepEqual(r2.written, [])
    assert.deepEqual(r2.createdKeys, [])
    assert.deepEqual(r2.hosts, r.hosts)
    for (const k of secrets) assert.ok(!second.stdout.includes(k))
    // init takes the state dir's lock (a file made and removed in it), so that dir's own mtime moves;
    // everything in it, and its inode, stay as they were.
    const ignoreLockMtime = (m: Map<string, string>) => new Map([...m].map(([k, v]) => [k, k === '.mesh/fleet' ? v.replace(/^(\S+) \d+ /, '$1 - ') : v]))
    assert.deepEqual(ignoreLockMtime(snapshot(dir)), ignoreLockMtime(before))
  })

  it('keeps keys 0600 and every directory 0700', () => {
    const {inv, state, out} = setup()
    assert.equal(mesh('init', '-i', inv).code, 0)
    for (const d of [state, join(state, 'keys'), out, join(out, 'Host-A'), join(out, 'Host-B'), join(out, 'Host-C')]) assert.equal(modeOf(d), 0o700, d)
    for (const f of readdirSync(join(state, 'keys'))) assert.equal(modeOf(join(state, 'keys', f)), 0o600, f)
    assert.equal(modeOf(join(state, 'state.json')), 0o600)
    assert.equal(modeOf(join(out, 'Host-B', 'wg0.conf')), 0o600)
    assert.equal(modeOf(join(out, 'hosts.block')), 0o644)
  })

  it('a bad inventory exits 2, names the field and its fix, and writes nothing', () => {
    const {dir, inv} = setup(readFileSync(EXAMPLE, 'utf8').replace('endpoint: 203.0.113.11', 'endpoint: 203.0.113.10'))
    const res = mesh('init', '-i', inv)
    assert.equal(res.code, 2)
    assert.match(res.stderr, /hosts\[1\]\.endpoint \(host Host-B\): duplicates the endpoint and port of hosts\[0\]/)
    assert.match(res.stderr, /fix: every host needs its own public address/)
    assert.equal(res.stdout, '')
    assert.deepEqual(readdirSync(dir), ['fleet.yaml'], 'no state dir, no out dir')
    const json = mesh('init', '-i', inv, '--json')
    assert.equal(json.code, 2)
    const err = JSON.parse(json.stdout).error
    assert.equal(err.kind, 'InventoryError')
    assert.equal(err.issues[0].path, 'hosts[1].endpoint (host Host-B)')
    assert.deepEqual(readdirSync(dir), ['fleet.yaml'])
  })

  it('a bad edit after a good run leaves state and output untouched', () => {
    const {dir, inv} = setup()
    assert.equal(mesh('init', '-i', inv).code, 0)
    const before = snapshot(dir)
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('address: 10.77.0.30', 'address: 10.78.0.30'))
    const res = mesh('init', '-i', inv)
    assert.equal(res.code, 2)
    assert.match(res.stderr, /hosts\[2\]\.address \(host Host-C\): 10\.78\.0\.30 is not a usable address in 10\.77\.0\.0\/24/)
    const after = snapshot(dir)
    after.delete('fleet.yaml')
    before.delete('fleet.yaml')
    assert.deepEqual(after, before)
  })

  it('refuses an exposed key file or output dir with the chmod fix, before writing anything', () => {
    const {dir, inv, state, out} = setup()
    assert.equal(mesh('init', '-i', inv).code, 0)
    chmodSync(join(state, 'keys', 'Host-B.key'), 0o644)
    let res = mesh('init', '-i', inv)
    assert.equal(res.code, 2)
    assert.ok(res.stderr.includes(`Fix: chmod 600 ${join(state, 'keys', 'Host-B.key')}`), res.stderr)
    chmodSync(join(state, 'keys', 'Host-B.key'), 0o600)
    const fresh = setup()
    mkdirSync(fresh.out, {recursive: true, mode: 0o755})
    chmodSync(fresh.out, 0o755)
    res = mesh('init', '-i', fresh.inv)
    assert.equal(res.code, 2)
    assert.ok(res.stderr.includes(`Fix: chmod 700 ${fresh.out}`), res.stderr)
    assert.ok(!existsSync(fresh.state), 'no keys were created')
    assert.ok(existsSync(out) && dir)
  })

  it('adding a host keeps the others\' addresses and keys; removing and re-adding one restores its own', () => {
    const {inv, state, out} = setup()
    assert.equal(mesh('init', '-i', inv).code, 0)
    const keys1 = keysOf(state)
    const state1 = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8'))
    // Insert the new host first: list order must not matter for who keeps what.
    const original = readFileSync(inv, 'utf8')
    writeFileSync(inv, original.replace('hosts:\n', 'hosts:\n  - name: Host-D\n    endpoint: 203.0.113.13\n'))
    const added = JSON.parse(mesh('init', '-i', inv, '--json').stdout)
    assert.deepEqual(added.createdKeys, ['Host-D'])
    const state2 = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8'))
    for (const h of ['Host-A', 'Host-B', 'Host-C']) {
      assert.deepEqual(state2.hosts[h], state1.hosts[h], `${h} kept its addresses and key`)
      assert.equal(keysOf(state)[`${h}.key`], keys1[`${h}.key`])
    }
    assert.equal(state2.hosts['Host-D'].ipv4, '10.77.0.3')
    assert.match(readFileSync(join(out, 'Host-A', 'wg0.conf'), 'utf8'), /# Host-D\n\[Peer\]\nPublicKey = .*\nEndpoint = Host-D-wg:51820\nAllowedIPs = 10\.77\.0\.3\/32, fd77:77::4\/128/)

    // Remove Host-B: archived, key kept, and a new host does not take its address.
    writeFileSync(inv, original.replace('  - name: Host-B\n    endpoint: 203.0.113.11\n', '  - name: Host-E\n    endpoint: 203.0.113.14\n'))
    const removed = JSON.parse(mesh('init', '-i', inv, '--json').stdout)
    assert.deepEqual(removed.archived, ['Host-B', 'Host-D'])
    const state3 = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8'))
    assert.equal(state3.hosts['Host-E'].ipv4, '10.77.0.4', 'archived addresses .2 and .3 are avoided')
    assert.equal(state3.archived.find((a: {name: string}) => a.name === 'Host-B').teardownPending, true)
    assert.equal(state3.hosts['Host-A'].ipv4, '10.77.0.1')

    // Host-B comes back: same key, same address.
    writeFileSync(inv, original)
    const back = JSON.parse(mesh('init', '-i', inv, '--json').stdout)
    assert.deepEqual(back.createdKeys, [])
    const state4 = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8'))
    assert.deepEqual(state4.hosts['Host-B'], state1.hosts['Host-B'])
  })

  it('--help lists init and no internal base class as a command', () => {
    const res = mesh('--help')
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, /^\s+init\s+Validate the inventory/m)
    assert.doesNotMatch(res.stdout, /^\s+base\b/m)
  })

  it('--state and --out put files where asked', () => {
    const {dir, inv} = setup()
    const res = mesh('init', '-i', inv, '--state', join(dir, 's'), '--out', join(dir, 'o'), '--json')
    assert.equal(res.code, 0, res.stderr)
    assert.ok(existsSync(join(dir, 's', 'state.json')) && existsSync(join(dir, 'o', 'hosts.block')))
    assert.ok(!existsSync(join(dir, '.mesh')) && !existsSync(join(dir, 'out')))
  })
})

