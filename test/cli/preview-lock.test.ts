// Previews are pure and one lock covers every state change, through the real CLI: after a host is added,
// `plan` and `apply --dry-run` leave the state dir byte- and mtime-identical (the new host's key and address
// are only announced), and while another live process holds the lock, init, apply, remove and rotate-keys
// are refused without having changed a thing (state, keys, inventory).
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join, relative} from 'node:path'
import {before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'

import {baseInventory, tmpDir, toYaml} from '../support/helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

async function mesh(args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  const r = await execa(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
    env: {NO_COLOR: '1'},
    stdin: 'ignore',
    timeout: 180_000,
    killSignal: 'SIGKILL',
    reject: false,
    stripFinalNewline: false,
  })
  return {code: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr}
}

/** Every entry under dir, the dir itself included: mode, mtime (ns) and content hash. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const p of [dir, ...readdirSync(dir, {recursive: true}).map((e) => join(dir, String(e)))]) {
    const st = statSync(p, {bigint: true})
    const content = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : 'dir'
    out.set(relative(dir, p) || '.', `${st.mode.toString(8)} ${st.mtimeNs} ${content}`)
  }
  return out
}

describe('previews write nothing; the lock comes before every write', () => {
  const dir = tmpDir('beam-mesh-preview-')
  const inv = join(dir, 'fleet.yaml')
  const state = join(dir, 'state')
  // Nothing listens on port 9 of loopback: every host is unreachable at once, no traffic leaves the machine.
  const withHosts = (n: number) => {
    const raw = baseInventory(n)
    raw.hosts = raw.hosts.map((h) => ({...h, ssh: 'root@127.0.0.1:9'}))
    return toYaml(raw)
  }

  before(async () => {
    writeFileSync(inv, withHosts(2))
    const init = await mesh(['init', '-i', inv, '--state', state, '--out', join(dir, 'out')])
    assert.equal(init.code, 0, init.stderr)
    writeFileSync(inv, withHosts(3))
  })

  it('plan and apply --dry-run after adding a host: state dir identical, the new key and address announced', async () => {
    const before_ = snapshot(state)
    const [plan, dry] = await Promise.all([mesh(['plan', '-i', inv, '--state', state, '--json']), mesh(['apply', '-i', inv, '--state', state, '--dry-run'])])
    assert.deepEqual(snapshot(state), before_)
    const result = JSON.parse(plan.stdout)
    assert.equal(result.dryRun, true)
    assert.deepEqual(result.hosts.map((h: {status: string}) => h.status), ['unreachable', 'unreachable', 'unreachable'])
    assert.ok(result.notes?.some((n: string) => /Host-C: key and address to be created/.test(n)), plan.stdout)
    assert.match(dry.stdout, /note: Host-C: key and address to be created/)
  })

  it('while a live process holds the lock: init, apply, remove and rotate-keys are refused and changed nothing', async () => {
    // This test's parent process is alive for as long as the test runs: a lock it "holds" is not stale.
    writeFileSync(join(state, 'apply.lock'), JSON.stringify({pid: process.ppid, host: hostname(), what: 'apply'}))
    const before_ = snapshot(state)
    const invBefore = readFileSync(inv, 'utf8')
    const runs = await Promise.all([
      mesh(['init', '-i', inv, '--state', state, '--out', join(dir, 'out')]),
      mesh(['apply', '-i', inv, '--state', state, '--yes']),
      mesh(['remove', 'Host-B', '-i', inv, '--state', state, '--yes']),
      mesh(['rotate-keys', '-i', inv, '--state', state, '--yes']),
    ])
    for (const r of runs) {
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /holds the lock/)
    }
    assert.deepEqual(snapshot(state), before_, 'no key for Host-C, no state.json change')
    assert.equal(readFileSync(inv, 'utf8'), invBefore, 'the inventory was not edited')
  })
})
