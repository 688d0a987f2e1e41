// e2e: two meshes on the same lab hosts (wg0 and wg9: other networks, ports and cookies), each with its
// firewall. Each keeps its /etc/beam-mesh/<if>/ files, its cookie and its nft table through applies of the
// other, the other's firewall being turned off, and a teardown of the other. A host carrying the single
// layout of earlier versions is migrated by the apply of its own mesh only (shown in the plan).
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireBuiltCli, requireLab, runProcess, startLabWaiting, stopLab} from './harness.js'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js')
const NAMES = ['Host-1', 'Host-2']

after(async () => {
  await stopLab()
})

async function mesh(lab: Lab, args: string[]) {
  const home = join(lab.dir, 'cli-home')
  mkdirSync(home, {recursive: true, mode: 0o700})
  return runProcess(process.execPath, [BIN, ...args], {timeoutMs: 600_000, env: {HOME: home}})
}

async function apply(lab: Lab, inventory: string): Promise<Map<string, string>> {
  const r = await mesh(lab, ['apply', '-i', inventory, '--yes', '--json'])
  assert.equal(r.status, 0, `${inventory}: ${r.stdout}${r.stderr}`)
  return new Map((JSON.parse(r.stdout).hosts as {name: string; status: string}[]).map((h) => [h.name, h.status]))
}

async function sh(lab: Lab, host: string, script: string) {
  const r = await lab.exec(host, ['sh', '-c', script], {timeoutMs: 60_000})
  return r.stdout + r.stderr
}

/** What a mesh owns on a host: its files (with their hashes), its table's rules and its interface. */
const snapshot = (lab: Lab, host: string, iface: string) =>
  sh(lab, host, `cd /etc/beam-mesh/${iface} && sha256sum * && nft list table inet beam_mesh_${iface} && wg show ${iface} listen-port`)

test('two meshes on one host never touch each other; the old single layout is migrated by its own mesh', {timeout: 1_800_000}, async (t) => {
  if (!requireLab(t)) return
  if (!requireBuiltCli(t, 'apply.js')) return
  const lab = await startLabWaiting(NAMES.length, {})
  try {
    const base = readFileSync(lab.result.inventory, 'utf8').replace(/^ {2}naming: sname\n/m, '  naming: sname\n  firewall: true\n')
    const a = join(lab.dir, 'mesh-a.yaml')
    const b = join(lab.dir, 'mesh-b.yaml')
    const bText = (firewall: boolean, hosts = NAMES) => {
      const kept = base.split(/^ {2}- name: /m)
      const text = kept[0].replace('interface: wg0', 'interface: wg9').replace('10.99.0.0/24', '10.98.0.0/24').replace('fd99:99::/64', 'fd98:98::/64')
        .replace('listenPort: 51820', 'listenPort: 51829').replace('firewall: true', `firewall: ${firewall}\n  distPortMin: 9400\n  distPortMax: 9405`)
      return text + kept.slice(1).filter((h) => hosts.some((n) => h.startsWith(`${n}\n`))).map((h) => `  - name: ${h}`).join('')
    }
    writeFileSync(a, base)
    writeFileSync(b, bText(true))
    for (const inv of [a, b]) assert.equal((await mesh(lab, ['init', '-i', inv])).status, 0)

    await apply(lab, a)
    const snapA = await Promise.all(NAMES.map((h) => snapshot(lab, h, 'wg0')))
    for (const s of snapA) assert.match(s, /cookie\n.*env\.sh\n.*firewall\.nft\n.*libcluster\.exs\n.*vm\.args\n[^]*table inet beam_mesh_wg0 \{[^]*^51820$/m)
    const stillA = async (what: string) => assert.deepEqual(await Promise.all(NAMES.map((h) => snapshot(lab, h, 'wg0'))), snapA, `wg0 mesh unchanged ${what}`)

    await t.test('applying wg9 adds its own files, cookie and table beside wg0', async () => {
      await apply(lab, b)
      await stillA('by the apply of wg9')
      for (const h of NAMES) {
        assert.match(await snapshot(lab, h, 'wg9'), /table inet beam_mesh_wg9 \{[^]*dport \{ 4369, 9400-9405 \}[^]*^51829$/m)
        const cookies = await sh(lab, h, 'cmp -s /etc/beam-mesh/wg0/cookie /etc/beam-mesh/wg9/cookie && echo same || echo different')
        assert.equal(cookies, 'different\n', `${h}: each mesh has its own cookie`)
        assert.equal(await sh(lab, h, 'ls /etc/beam-mesh'), 'wg0\nwg9\n')
      }
      assert.deepEqual([...(await apply(lab, a)).values()], ['unchanged', 'unchanged'], 're-applying wg0 changes nothing')
    })

    await t.test("wg9's firewall off, then Host-2 torn down from wg9: wg0 keeps everything", async () => {
      writeFileSync(b, bText(false))
      await apply(lab, b)
      for (const h of NAMES) assert.match(await sh(lab, h, 'nft list tables'), /^table inet beam_mesh_wg0$/m)
      assert.doesNotMatch(await sh(lab, 'Host-1', 'nft list tables'), /beam_mesh_wg9/)
      await stillA("after wg9's firewall went off")
      writeFileSync(b, bText(false, ['Host-1']))
      await apply(lab, b)
      assert.equal(await sh(lab, 'Host-2', 'ls /etc/beam-mesh; ip link show wg9 >/dev/null 2>&1 && echo wg9-up; true'), 'wg0\n', 'wg9 torn down on Host-2')
      await stillA('after the teardown of wg9 on Host-2')
    })

    await t.test('the single layout of earlier versions: left alone by wg9, migrated by wg0 (shown in the plan)', async () => {
      // As an earlier version left it: one mesh's files directly in /etc/beam-mesh, table inet beam_mesh.
      await sh(lab, 'Host-1', `cd /etc/beam-mesh && for f in cookie env.sh libcluster.exs; do cp wg0/$f $f; done
printf "## Distribution listens only on this host's wg0 address, never on the public side.\\n" > vm.args
sed 's/beam_mesh_wg0/beam_mesh/g' wg0/firewall.nft > firewall.nft && nft -f firewall.nft`)
      const legacy = () => sh(lab, 'Host-1', 'cd /etc/beam-mesh; ls -p | grep -v /; nft list tables | grep -c "inet beam_mesh$"; true')
      const before = await legacy()
      assert.equal(before, 'cookie\nenv.sh\nfirewall.nft\nlibcluster.exs\nvm.args\n1\n')
      await apply(lab, b)
      assert.equal(await legacy(), before, 'the wg9 mesh leaves a wg0 single layout alone')

      const plan = await mesh(lab, ['apply', '-i', a, '--dry-run', '--no-diff'])
      assert.equal(plan.status, 0, plan.stderr)
      for (const f of ['cookie', 'env.sh', 'vm.args', 'libcluster.exs', 'firewall.nft']) assert.match(plan.stdout, new RegExp(`^ {2}- /etc/beam-mesh/${f.replace('.', '\\.')} \\(no longer managed\\)$`, 'm'))
      assert.match(plan.stdout, /^ {2}> nft 'add table inet beam_mesh; delete table inet beam_mesh' \(undo its activation\)$/m)
      assert.deepEqual([...(await apply(lab, a)).values()], ['changed', 'unchanged'])
      assert.equal(await legacy(), '0\n', 'old files and table inet beam_mesh gone')
      await stillA('after the migration')
      assert.equal(await sh(lab, 'Host-1', 'wg show wg9 listen-port; ls /etc/beam-mesh/wg9'), '51829\ncookie\nenv.sh\nlibcluster.exs\nvm.args\n', 'wg9 still up on Host-1, its files kept')
    })
  } finally {
    await stopLab(lab)
  }
})
