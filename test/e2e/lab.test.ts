// e2e: the local lab gives real hosts (own hostname, /etc/hosts, /etc/wireguard, sshd) on which the wg-quick
// recipe works, and `lab down` leaves nothing behind. Needs root + packages; skips loudly (fails under CI) otherwise.
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {parseInventory} from '../../src/core/inventory.js'
import {LabDownResult, seedHostsFile} from '../../src/lab/index.js'
import {claimLabSlot} from '../../src/lab/slot.js'
import {Lab, requireBuiltCli, requireLab, startLab, stopLab} from './harness.js'
import {pingDuring} from './ping.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

after(async () => {
  await stopLab() // whatever a failed test left running
})

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, {encoding: 'utf8'})

/** Everything a lab could leave behind, for the assertions after `down`. */
function leftovers(prefix: string, dir: string, pids: number[]) {
  const alive = pids.filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
    } catch {
      return false
    }
  })
  const pgrep = spawnSync('pgrep', ['-f', dir], {encoding: 'utf8'}).stdout.trim()
  return {
    namespaces: sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`${prefix}-`)),
    links: sh('ip', ['-o', 'link', 'show']).split('\n').filter((l) => l.includes(` ${prefix}-`)),
    mounts: readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(dir) || l.includes(`/${prefix}-host-`)),
    processes: [...alive.map(String), ...pgrep.split('\n').filter(Boolean)],
    dirExists: existsSync(dir),
  }
}

function tunnelConfig(privateKey: string, address: string, peerPublic: string, peerAddress: string, peerEndpoint: string) {
  return `[Interface]\nPrivateKey = ${privateKey}\nAddress = ${address}/24\nListenPort = 51820\n\n` +
    `[Peer]\nPublicKey = ${peerPublic}\nAllowedIPs = ${peerAddress}/32\nEndpoint = ${peerEndpoint}:51820\n`
}

test('lab: 3 real hosts over SSH, a wg-quick tunnel between two of them, and a clean lab down', async (t) => {
  if (!requireLab(t)) return
  const lab: Lab = await startLab(3)
  let down: LabDownResult | undefined
  let pids: number[] = []
  try {
    await t.test('each host answers SSH (strict host keys) with its own hostname, /etc/hosts and an empty /etc/wireguard', async () => {
      for (const h of lab.hosts) {
        const r = await lab.ssh(h, 'hostname; echo ---; cat /etc/hosts; echo ---; stat -c %a /etc/wireguard; ls -A /etc/wireguard | wc -l')
        assert.equal(r.status, 0, r.stderr)
        const [hostname, hosts, wg] = r.stdout.split('---\n')
        assert.equal(hostname.trim(), h.name)
        assert.equal(hosts, seedHostsFile(h.name), 'seeded /etc/hosts byte for byte (user lines included)')
        assert.doesNotMatch(hosts, /^127\.0\.1\.1/m, 'no 127.0.1.1 line shadowing the mesh name')
        assert.deepEqual(wg.trim().split('\n'), ['700', '0'])
      }
    })

    await t.test('labExec enters the same host without SSH', async () => {
      const r = await lab.exec('Host-2', ['sh', '-c', 'hostname; ip -4 -o addr show eth0'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^Host-2\n/)
      assert.match(r.stdout, new RegExp(`inet ${lab.host('Host-2').address.replace(/\./g, '\\.')}/24`))
    })

    await t.test('the written inventory is valid and points at the lab', () => {
      const inv = parseInventory(readFileSync(lab.result.inventory, 'utf8'), lab.result.inventory)
      assert.deepEqual(inv.hosts.map((h) => [h.name, h.endpoint, h.ssh]), lab.hosts.map((h) => [h.name, h.address, `root@${h.address}:22`]))
      assert.equal(inv.ssh.identityFile, './id_ed25519')
      assert.equal(inv.ssh.knownHostsFile, './known_hosts')
      assert.equal(inv.network.ipv4, '10.99.0.0/24')
    })

    await t.test('a hand-written 2-host wg-quick config brings up a tunnel (wireguard-go) that pings', async () => {
      const [a, b] = [lab.host('Host-1'), lab.host('Host-2')]
      const ka = sh('wg', ['genkey']).trim()
      const kb = sh('wg', ['genkey']).trim()
      const pub = (k: string) => execFileSync('wg', ['pubkey'], {input: `${k}\n`, encoding: 'utf8'}).trim()
      const confs = [
        [a, tunnelConfig(ka, '10.99.0.1', pub(kb), '10.99.0.2', b.address)],
        [b, tunnelConfig(kb, '10.99.0.2', pub(ka), '10.99.0.1', a.address)],
      ] as const
      for (const [h, conf] of confs) {
        const r = await lab.ssh(h, 'umask 077 && cat > /etc/wireguard/wg0.conf && wg-quick up wg0 && ls /run/wireguard', {input: conf})
        assert.equal(r.status, 0, `wg-quick up on ${h.name}: ${r.stderr}`)
        assert.match(r.stdout, /wg0\.sock/)
      }
      const ping = await lab.ssh(a, 'ping -c 3 -i 0.2 -W 2 10.99.0.2')
      assert.equal(ping.status, 0, `ping through the tunnel: ${ping.stdout}${ping.stderr}`)
      const third = await lab.ssh('Host-3', 'ls -A /run/wireguard /etc/wireguard; ip link show wg0 2>&1 || true')
      assert.doesNotMatch(third.stdout, /wg0\.(sock|conf)|state/, 'Host-3 sees neither socket, config nor interface of the others')
    })

    // The key tests count lost pings with pingDuring: it must see an outage that the change leaves behind, which
    // no later reply ends (it once called such a tunnel's last pings "in flight" and reported 0 lost).
    await t.test('the ping-loss counter: a quiet change loses nothing; a tunnel still down when the change ends is counted', async () => {
      const quiet = await pingDuring(lab, 'Host-1', '10.99.0.2', () => new Promise((r) => setTimeout(r, 200)))
      assert.equal(quiet.lost, 0, quiet.timeline)
      assert.ok(quiet.sent >= 10, `pings answered: ${quiet.sent}`)
      const pubOfHost1 = (await lab.exec('Host-1', ['wg', 'show', 'wg0', 'public-key'])).stdout.trim()
      const broken = await pingDuring(lab, 'Host-1', '10.99.0.2', async () => {
        const r = await lab.exec('Host-2', ['wg', 'set', 'wg0', 'peer', pubOfHost1, 'remove'])
        assert.equal(r.status, 0, r.stderr)
      })
      // The 1 s after the change alone is ~20 pings at 50 ms.
      assert.ok(broken.lost >= 10, `lost ${broken.lost}: ${broken.timeline}`)
      assert.match(broken.timeline, /no reply after the change ended/)
    })

    pids = lab.hosts.flatMap((h) => sh('ip', ['netns', 'pids', h.namespace]).split('\n').filter(Boolean).map(Number))
    assert.ok(pids.length >= 5, `sshd x3 + wireguard-go x2 expected in the namespaces, found ${pids.length}`)
  } finally {
    ;[down] = await stopLab(lab)
  }
  assert.equal(down?.namespacesDeleted.length, 4, 'three hosts and the router')
  assert.deepEqual(leftovers(lab.prefix, lab.dir, pids), {namespaces: [], links: [], mounts: [], processes: [], dirExists: false})
})

test('lab CLI: up --json, status, a conflicting second lab is refused, down after a crash (no lab.json), idempotent', async (t) => {
  if (!requireLab(t)) return
  const bin = join(ROOT, 'bin', 'run.js')
  if (!requireBuiltCli(t, 'lab/up.js')) return
  const dir = mkdtempSync(join(tmpdir(), 'beam-mesh-labcli-'))
  // Two slots claimed at run time: the CLI's labs then never meet another run's.
  const first = claimLabSlot()
  const second = claimLabSlot()
  const prefix = first.prefix
  const net = String(first.net)
  const gateway = `198.18.${first.net}.1`.replace(/\./g, '\\.')
  const mesh = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, 'lab', ...args, '--json'], {encoding: 'utf8', cwd: ROOT, timeout: 60_000})
    return {status: r.status, json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined, stderr: r.stderr}
  }
  try {
    const up = mesh('up', '--hosts', '2', '--dir', dir, '--prefix', prefix, '--net', net)
    assert.equal(up.status, 0, up.stderr)
    assert.deepEqual(up.json.hosts.map((h: {name: string}) => h.name), ['Host-1', 'Host-2'])
    assert.match(up.stderr, new RegExp(`lab: router ${prefix}-router: ${prefix}-gw`), 'progress goes to stderr')

    const status = mesh('status', '--dir', dir)
    assert.equal(status.status, 0, status.stderr)
    assert.equal(status.json.healthy, true)
    assert.match(status.json.hosts[1].sshBanner, /^SSH-2\.0-OpenSSH/)
    // The same lab selected by the other flags lab up took, and listed among all labs without a flag.
    for (const sel of [['--prefix', prefix], ['--net', net]]) {
      const one = mesh('status', ...sel)
      assert.equal(one.status, 0, one.stderr)
      assert.deepEqual([one.json.dir, one.json.prefix, one.json.healthy], [status.json.dir, prefix, true], sel.join(' '))
    }
    const all = mesh('status')
    assert.ok(all.status === 0 || all.status === 1, all.stderr) // 1 when another run's lab is unhealthy right now
    assert.ok(all.json.labs.some((l: {dir: string; healthy: boolean}) => l.dir === status.json.dir && l.healthy), 'listed among all labs')
    const none = mesh('status', '--net', String(second.net))
    assert.equal(none.status, 2)
    assert.match(none.json.error.message, new RegExp(`no lab matches --net ${second.net}`))

    const clash = mesh('up', '--hosts', '1', '--dir', join(dir, 'other'), '--prefix', second.prefix, '--net', net)
    assert.equal(clash.status, 2)
    assert.equal(clash.json.error.kind, 'UserError')
    assert.match(clash.json.error.message, new RegExp(`${gateway} .*already on interface ${prefix}-gw`))

    rmSync(join(dir, 'lab.json')) // as if `up` had crashed before recording anything
    const down = mesh('down', '--dir', dir, '--prefix', prefix)
    assert.equal(down.status, 0, down.stderr)
    assert.deepEqual(down.json.namespacesDeleted.sort(), [`${prefix}-host-1`, `${prefix}-host-2`, `${prefix}-router`])
    assert.ok(down.json.killedPids.length >= 2)
    assert.deepEqual(leftovers(prefix, dir, down.json.killedPids), {namespaces: [], links: [], mounts: [], processes: [], dirExists: false})

    const again = mesh('down', '--dir', dir, '--prefix', prefix)
    assert.equal(again.status, 0, again.stderr)
    assert.equal(again.json.alreadyClean, true)

    // lab down finds a lab by --net alone (the flag lab up took), and a second run is harmless.
    const other = join(dir, 'other')
    const up2 = mesh('up', '--hosts', '1', '--dir', other, '--prefix', second.prefix, '--net', String(second.net))
    assert.equal(up2.status, 0, up2.stderr)
    const byNet = mesh('down', '--net', String(second.net))
    assert.equal(byNet.status, 0, byNet.stderr)
    assert.deepEqual(byNet.json.namespacesDeleted.sort(), [`${second.prefix}-host-1`, `${second.prefix}-router`])
    assert.deepEqual(leftovers(second.prefix, other, byNet.json.killedPids), {namespaces: [], links: [], mounts: [], processes: [], dirExists: false})
    assert.equal(mesh('down', '--net', String(second.net)).json.alreadyClean, true)
  } finally {
    spawnSync(process.execPath, [bin, 'lab', 'down', '--dir', dir, '--prefix', prefix], {cwd: ROOT, stdio: 'ignore'})
    spawnSync(process.execPath, [bin, 'lab', 'down', '--dir', join(dir, 'other'), '--prefix', second.prefix], {cwd: ROOT, stdio: 'ignore'})
    rmSync(dir, {recursive: true, force: true})
    first.release()
    second.release()
  }
})
