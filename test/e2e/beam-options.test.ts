// e2e: BEAM options that change what apply owns on a host, with the real `mesh` CLI against lab hosts.
// beam.firewall on -> the nft table is loaded; off again -> the file is retired (removed) and the table
// unloaded; beam.user -> the cookie is 0400 owned by that user (lab hosts share /etc/passwd with this
// machine, so `nobody` exists there), a re-apply is a no-op, an unknown user fails and is rolled back.
// Needs root + packages; skips loudly (fails under CI).
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireBuiltCli, requireLab, runProcess, startLab, stopLab} from './harness.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const FIREWALL = '/etc/beam-mesh/wg0/firewall.nft'
const COOKIE = '/etc/beam-mesh/wg0/cookie'
const NAMES = ['Host-1', 'Host-2']


after(async () => {
  await stopLab() // whatever a failed test left running
})

interface HostResult {
  name: string
  status: string
  files: {path: string; kind: string}[]
  error?: string
}

/** The real CLI; HOME is an empty dir so the operator's ~/.ssh cannot leak in. */
async function mesh(lab: Lab, args: string[], json = true) {
  const home = join(lab.dir, 'cli-home')
  mkdirSync(home, {recursive: true, mode: 0o700})
  const r = await runProcess(process.execPath, [BIN, ...args, ...(json ? ['--json'] : [])], {timeoutMs: 120_000, env: {HOME: home}})
  let parsed: any
  if (json) {
    try {
      parsed = JSON.parse(r.stdout)
    } catch {
      assert.fail(`mesh ${args.join(' ')}: stdout is not JSON:\n${r.stdout}\n${r.stderr}`)
    }
  }
  return {status: r.status, json: parsed, stdout: r.stdout, stderr: r.stderr}
}

async function apply(lab: Lab, inventory: string): Promise<{status: number | null; hosts: Map<string, HostResult>; stderr: string}> {
  const r = await mesh(lab, ['apply', '-i', inventory, '--yes'])
  return {status: r.status, hosts: new Map((r.json.hosts as HostResult[]).map((h) => [h.name, h])), stderr: r.stderr}
}

async function sh(lab: Lab, host: string, script: string): Promise<{status: number | null; out: string}> {
  const r = await lab.exec(host, ['sh', '-c', script])
  return {status: r.status, out: r.stdout + r.stderr}
}

const tableLoaded = async (lab: Lab, host: string) => (await sh(lab, host, 'nft list table inet beam_mesh_wg0')).status === 0
const statOf = async (lab: Lab, host: string, paths: string[]) => (await sh(lab, host, `stat -c '%n %a %U' ${paths.join(' ')}`)).out

test('beam options e2e: firewall on/off (retired file), cookie owner (beam.user)', async (t) => {
  if (!requireLab(t)) return
  if (!requireBuiltCli(t, 'apply.js')) return
  const lab = await startLab(NAMES.length)
  try {
    const inventory = join(lab.dir, 'mesh.yaml') // beside the lab's key and known_hosts
    const base = readFileSync(lab.result.inventory, 'utf8')
    assert.match(base, /^ {2}naming: sname\n/m)
    const withBeam = (extra: string[]) => writeFileSync(inventory, base.replace(/^ {2}naming: sname\n/m, `  naming: sname\n${extra.map((l) => `  ${l}\n`).join('')}`))

    await t.test('beam.firewall: true -> the file is written and its nft table loaded', async () => {
      withBeam(['firewall: true'])
      const init = await mesh(lab, ['init', '-i', inventory])
      assert.equal(init.status, 0, init.stderr)
      const r = await apply(lab, inventory)
      assert.equal(r.status, 0, r.stderr)
      for (const n of NAMES) {
        assert.equal(r.hosts.get(n)?.status, 'changed')
        assert.equal(await statOf(lab, n, [FIREWALL]), `${FIREWALL} 644 root\n`)
        assert.equal(await tableLoaded(lab, n), true, `${n}: table inet beam_mesh_wg0 loaded`)
      }
    })

    await t.test('a firewall table lost while its file stays (as after a reboot) is loaded again by the next apply', async () => {
      assert.equal((await sh(lab, 'Host-1', 'nft delete table inet beam_mesh_wg0')).status, 0)
      assert.equal(await tableLoaded(lab, 'Host-1'), false)
      const r = await apply(lab, inventory)
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.hosts.get('Host-1')?.status, 'changed')
      assert.deepEqual(r.hosts.get('Host-1')?.files, [], 'no file is rewritten')
      assert.equal(r.hosts.get('Host-2')?.status, 'unchanged')
      assert.equal(await tableLoaded(lab, 'Host-1'), true, 'Host-1: table loaded again')
      const again = await apply(lab, inventory)
      assert.deepEqual([...again.hosts.values()].map((h) => h.status), ['unchanged', 'unchanged'])
    })

    await t.test('beam.firewall: false -> planned as retired, then the file is removed and the table gone', async () => {
      withBeam(['firewall: false'])
      const plan = await mesh(lab, ['apply', '-i', inventory, '--dry-run', '--no-diff'], false)
      assert.equal(plan.status, 0, plan.stderr)
      assert.match(plan.stdout, /^ {2}- \/etc\/beam-mesh\/wg0\/firewall\.nft \(no longer managed\)$/m)
      assert.match(plan.stdout, /^ {2}> nft 'add table inet beam_mesh_wg0; delete table inet beam_mesh_wg0' \(undo its activation\)$/m)
      assert.equal(await tableLoaded(lab, 'Host-1'), true, 'a dry run changes nothing')

      const r = await apply(lab, inventory)
      assert.equal(r.status, 0, r.stderr)
      for (const n of NAMES) {
        assert.deepEqual(r.hosts.get(n)?.files, [{path: FIREWALL, kind: 'delete', how: 'removed'}])
        assert.equal((await sh(lab, n, `test -e ${FIREWALL}`)).status, 1, `${n}: ${FIREWALL} removed`)
        assert.equal(await tableLoaded(lab, n), false, `${n}: table unloaded`)
      }
      const again = await apply(lab, inventory)
      assert.deepEqual([...again.hosts.values()].map((h) => h.status), ['unchanged', 'unchanged'])
    })

    await t.test('beam.user: nobody -> cookie 0400 owned by nobody, the other files root 0644; re-apply unchanged', async () => {
      withBeam(['user: nobody'])
      const r = await apply(lab, inventory)
      assert.equal(r.status, 0, r.stderr)
      for (const n of NAMES) {
        assert.deepEqual(r.hosts.get(n)?.files.map((f) => [f.path, f.kind]), [[COOKIE, 'update']])
        assert.equal(
          await statOf(lab, n, [COOKIE, '/etc/beam-mesh/wg0/env.sh', '/etc/beam-mesh/wg0/vm.args']),
          `${COOKIE} 400 nobody\n/etc/beam-mesh/wg0/env.sh 644 root\n/etc/beam-mesh/wg0/vm.args 644 root\n`,
        )
      }
      // What the release does as that user (privileges dropped with setpriv, as a service manager would):
      // source env.sh, which reads the cookie. Root is no longer needed for it.
      const read = await sh(lab, 'Host-1', `setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c '. /etc/beam-mesh/wg0/env.sh && [ \${#RELEASE_COOKIE} = 48 ] && echo readable'`)
      assert.match(read.out, /^readable$/m, read.out)
      const again = await apply(lab, inventory)
      assert.equal(again.status, 0, again.stderr)
      assert.deepEqual([...again.hosts.values()].map((h) => h.status), ['unchanged', 'unchanged'])
    })

    await t.test('beam.user naming a user the host lacks: the host fails with a clear error and keeps its cookie', async () => {
      withBeam(['user: bmo-no-such-user'])
      const r = await apply(lab, inventory)
      assert.equal(r.status, 1)
      for (const n of NAMES) {
        const h = r.hosts.get(n)!
        assert.equal(h.status, 'restored', JSON.stringify(h))
        assert.match(h.error ?? '', /user bmo-no-such-user does not exist on this host/)
        assert.equal(await statOf(lab, n, [COOKIE]), `${COOKIE} 400 nobody\n`)
      }
    })

    await t.test('beam.user removed -> the cookie goes back to root 0600', async () => {
      withBeam([])
      const r = await apply(lab, inventory)
      assert.equal(r.status, 0, r.stderr)
      for (const n of NAMES) assert.equal(await statOf(lab, n, [COOKIE]), `${COOKIE} 600 root\n`)
    })
  } finally {
    await stopLab(lab)
  }
})
