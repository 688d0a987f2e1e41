// e2e (issue 4): the real `mesh` CLI against real lab hosts. init + apply build a working mesh (pings over v4 and
// v6, /etc/hosts user lines kept byte for byte, private modes), real Erlang nodes cluster by hostname through the
// tunnel with EPMD off the public side, a re-run touches nothing, a 4th host joins without losing a packet, removing
// it prunes it everywhere, and an unknown host key fails closed. Needs root + packages; skips loudly (fails under CI).
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {seedHostsFile} from '../../src/lab/index.js'
import {HANDSHAKE_RESTARTED_NOTE} from '../../src/services/fresh-tunnels.js'
import {Lab, requireBuiltCli, requireLab, runProcess, startLabWaiting, stopLab} from './harness.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

after(async () => {
  await stopLab() // whatever a failed test left running
})

interface HostInfo {
  name: string
  ipv4: string
  ipv6: string
  publicKey: string
}
interface HostResult {
  name: string
  status: string
  iface: string
  disruptive: boolean
  error?: string
  notes: string[]
}
interface ApplyJson {
  hosts: HostResult[]
  warnings?: string[]
  changed: number
  failed: number
}


/** The real CLI; HOME is an empty dir so the operator's ~/.ssh (config, known_hosts) cannot leak in. */
async function mesh(lab: Lab, args: string[], timeoutMs = 120_000) {
  const home = join(lab.dir, 'cli-home')
  mkdirSync(home, {recursive: true, mode: 0o700})
  const r = await runProcess(process.execPath, [BIN, ...args, '--json'], {timeoutMs, env: {HOME: home}})
  let json: any
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined
  } catch {
    assert.fail(`mesh ${args.join(' ')}: stdout is not JSON:\n${r.stdout}\n${r.stderr}`)
  }
  return {status: r.status, json, stderr: r.stderr}
}

interface ShOptions {
  env?: Record<string, string>
  timeoutMs?: number
  /** Positional parameters $1… (values never pass through the shell's parser). */
  args?: string[]
}

async function sh(lab: Lab, host: string, script: string, opts: ShOptions = {}): Promise<string> {
  const r = await lab.exec(host, ['sh', '-c', script, 'sh', ...(opts.args ?? [])], opts)
  assert.equal(r.status, 0, `${host}: ${script}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** Pings every address; one reply each is enough (the first packet may wait for a handshake). */
async function assertPings(lab: Lab, from: string, addrs: string[]) {
  const script = 'for a in "$@"; do ping -q -c 2 -i 0.2 -w 5 "$a" >/dev/null || echo "no reply from $a"; done'
  const r = await lab.exec(from, ['sh', '-c', script, 'ping', ...addrs])
  // On failure, what the sender's WireGuard saw of each peer (handshake, transfer; `wg show` hides the private key):
  // tells a dead peer from handshakes that crossed when the hosts came up at the same moment.
  const seen = r.stdout + r.stderr ? (await lab.exec(from, ['wg', 'show', 'wg0'])).stdout : ''
  assert.equal(r.stdout + r.stderr, '', `${from} -> tunnel; its wg show:\n${seen}`)
}

const ifindex = async (lab: Lab, host: string) => Number(/^(\d+):/.exec(await sh(lab, host, 'ip -o link show wg0'))?.[1])

/** Peer lines of `wg show dump` only: line 1 holds the private key and is dropped unread. */
async function peerStats(lab: Lab, host: string) {
  const lines = (await sh(lab, host, 'wg show wg0 dump')).trim().split('\n').slice(1)
  return new Map(lines.map((l) => l.split('\t')).map((f) => [f[0], {handshake: Number(f[4]), rx: Number(f[5]), tx: Number(f[6])}]))
}

const wgPeers = async (lab: Lab, host: string) => (await sh(lab, host, 'wg show wg0 peers')).trim().split('\n').filter(Boolean).sort()

/** Applies and checks every listed host reached `status`; returns the JSON. */
async function applyOk(lab: Lab, inventory: string, expect: Record<string, {status: string; iface?: string}>): Promise<ApplyJson> {
  const r = await mesh(lab, ['apply', '-i', inventory, '--yes'])
  assert.equal(r.status, 0, `apply: ${JSON.stringify(r.json)}\n${r.stderr}`)
  const byName = new Map((r.json as ApplyJson).hosts.map((h) => [h.name, h]))
  for (const [name, want] of Object.entries(expect)) {
    const got = byName.get(name)
    assert.ok(got, `${name} missing from the apply result`)
    assert.deepEqual({status: got.status, ...(want.iface ? {iface: got.iface} : {})}, want, `${name}: ${JSON.stringify(got)}`)
  }
  return r.json
}

/** The lab inventory without its last host (Host-4): the mesh starts with 3 of the 4 machines. */
function withoutLastHost(inventory: string): string {
  const idx = inventory.lastIndexOf('  - name: ')
  return inventory.slice(0, idx)
}

// Erlang on a lab host: the cookie comes from the file apply wrote (never argv), env.sh sets ERL_EPMD_ADDRESS.
const ERL_PREP = '. /etc/beam-mesh/wg0/env.sh && cp /etc/beam-mesh/wg0/cookie "$HOME/.erlang.cookie" && chmod 400 "$HOME/.erlang.cookie"'

async function erlHome(lab: Lab, host: string): Promise<Record<string, string>> {
  const home = join(lab.dir, 'erl-home', host)
  mkdirSync(home, {recursive: true, mode: 0o700})
  return {HOME: home}
}

/** `net_adm:ping` from a short-lived node on `from` to each target, polled until all pong (at most ~10 s). */
async function pingNodes(lab: Lab, from: string, targets: string[]): Promise<Record<string, string>> {
  const list = targets.map((t) => `"${t}"`).join(',')
  const evalStr = `[io:format("~s ~p~n", [N, net_adm:ping(list_to_atom(N))]) || N <- [${list}]], halt().`
  const env = await erlHome(lab, from)
  let answers: Record<string, string> = {}
  let last = ''
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const r = await lab.exec(from, ['sh', '-c', `${ERL_PREP} && exec erl -sname probe -noshell -eval "$1"`, 'sh', evalStr], {env, timeoutMs: 15_000})
    last = `exit ${r.status}: ${r.stdout}${r.stderr}`
    answers = Object.fromEntries(r.stdout.split('\n').map((l) => l.trim().split(' ')).filter((p) => p.length === 2 && targets.includes(p[0])))
    if (targets.every((t) => answers[t] === 'pong')) return answers
    await sleep(500)
  }
  console.error(`net_adm:ping from ${from}, last attempt: ${last}`)
  return answers
}

/** bash /dev/tcp from inside the host: "open", "refused" or something else. */
async function tcpProbe(lab: Lab, from: string, host: string, port: number): Promise<string> {
  const r = await lab.exec(from, ['bash', '-c', 'timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>&1 && echo open', 'probe', host, String(port)])
  return /open/.test(r.stdout) ? 'open' : /refused/i.test(r.stdout) ? 'refused' : `other: ${r.status} ${r.stdout.trim()}`
}

test('apply e2e: mesh, real Erlang cluster, idempotent re-run, hitless add, prune, fail-closed host keys', async (t) => {
  if (!requireLab(t)) return
  if (!requireBuiltCli(t, 'apply.js')) return
  const lab = await startLabWaiting(4, {}, 240_000)
  const names3 = ['Host-1', 'Host-2', 'Host-3']
  const inventory = join(lab.dir, 'mesh.yaml') // beside the lab's key and known_hosts; state in .mesh/mesh
  const full = readFileSync(lab.result.inventory, 'utf8')
  writeFileSync(inventory, withoutLastHost(full))
  let hosts: HostInfo[] = []
  let block = ''
  const info = (name: string) => hosts.find((h) => h.name === name)!
  const meshIps = (names: string[]) => names.flatMap((n) => [info(n).ipv4, info(n).ipv6])

  try {
    await t.test('init + apply on 3 hosts: every host pings every peer (v4, v6) through the tunnel', async () => {
      const init = await mesh(lab, ['init', '-i', inventory])
      assert.equal(init.status, 0, init.stderr)
      hosts = init.json.hosts
      assert.deepEqual(hosts.map((h) => h.name), names3)
      block = readFileSync(join(init.json.outDir, 'hosts.block'), 'utf8')

      const res = await applyOk(lab, inventory, Object.fromEntries(names3.map((n) => [n, {status: 'changed', iface: 'up'}])))
      assert.equal(res.changed, 3)
      assert.equal(res.failed, 0)
      for (const n of names3) await assertPings(lab, n, meshIps(names3.filter((p) => p !== n)))
    })

    await t.test('/etc/hosts keeps the user lines byte for byte; names resolve; wg files are private', async () => {
      for (const n of names3) {
        const etcHosts = await sh(lab, n, 'cat /etc/hosts')
        assert.equal(etcHosts, seedHostsFile(n) + block, `${n}: seed (user lines) untouched, our block appended`)
        const modes = await sh(lab, n, 'stat -c "%n %a %U" /etc/wireguard /etc/wireguard/wg0.conf /etc/beam-mesh/wg0/cookie')
        assert.equal(modes, '/etc/wireguard 700 root\n/etc/wireguard/wg0.conf 600 root\n/etc/beam-mesh/wg0/cookie 600 root\n')
      }
      for (const [i, n] of names3.entries()) {
        const out = await sh(lab, 'Host-1', 'getent ahostsv4 "$1" | head -1; getent ahostsv4 "$1-wg" | head -1', {args: [n]})
        const [mesh4, pub4] = out.trim().split('\n').map((l) => l.split(/\s+/)[0])
        assert.equal(mesh4, info(n).ipv4, `${n} -> its WireGuard IPv4`)
        assert.equal(pub4, lab.host(i).address, `${n}-wg -> its public (lab) address`)
      }
    })

    await t.test('real Erlang nodes connect by hostname through the tunnel; EPMD and dist stay off the public side', async () => {
      for (const n of names3) {
        await sh(lab, n, `${ERL_PREP} && exec erl -sname app -noshell -detached -args_file /etc/beam-mesh/wg0/vm.args`, {env: await erlHome(lab, n)})
      }
      const answers = await pingNodes(lab, 'Host-1', names3.map((n) => `app@${n}`))
      assert.deepEqual(answers, Object.fromEntries(names3.map((n) => [`app@${n}`, 'pong'])))

      const listen = await sh(lab, 'Host-2', 'ss -H -ltn')
      const locals = listen.trim().split('\n').map((l) => l.trim().split(/\s+/)[3]).filter((a) => !a.endsWith(':22')).sort()
      assert.deepEqual(locals.filter((a) => a.endsWith(':4369')), ['10.99.0.2:4369', '127.0.0.1:4369', '[::1]:4369', `[${info('Host-2').ipv6}]:4369`].sort())
      assert.ok(locals.filter((a) => !a.endsWith(':4369')).every((a) => a.startsWith(`${info('Host-2').ipv4}:`)), `dist on wg0 only: ${locals.join(',')}`)

      assert.equal(await tcpProbe(lab, 'Host-1', lab.host('Host-2').address, 4369), 'refused', 'EPMD on the public address')
      assert.equal(await tcpProbe(lab, 'Host-1', info('Host-2').ipv4, 4369), 'open', 'EPMD through the tunnel (control)')
    })

    await t.test('a second apply changes nothing and leaves interfaces and sessions alone', async () => {
      const before = await Promise.all(names3.map(async (n) => ({idx: await ifindex(lab, n), peers: await peerStats(lab, n)})))
      const res = await applyOk(lab, inventory, Object.fromEntries(names3.map((n) => [n, {status: 'unchanged', iface: 'none'}])))
      assert.equal(res.changed, 0)
      assert.equal(res.failed, 0)
      for (const [i, n] of names3.entries()) {
        assert.equal(await ifindex(lab, n), before[i].idx, `${n}: wg0 not recreated`)
        const now = await peerStats(lab, n)
        for (const [key, old] of before[i].peers) {
          const cur = now.get(key)
          assert.ok(cur, `${n}: peer still there`)
          assert.ok(old.handshake > 0 && cur.handshake >= old.handshake, `${n}: handshake not reset (${old.handshake} -> ${cur.handshake})`)
          assert.ok(cur.rx >= old.rx && cur.tx >= old.tx, `${n}: transfer counters not reset`)
        }
      }
    })

    await t.test('adding Host-4 is hitless: 0 pings lost Host-1 -> Host-2, Host-1 wg0 kept, Host-4 reaches everyone', async () => {
      const idx1 = await ifindex(lab, 'Host-1')
      // 400 x 50 ms = 20 s: longer than the apply, which must finish while the ping still runs.
      const pinging = lab.exec('Host-1', ['ping', '-q', '-i', '0.05', '-c', '400', '-W', '2', info('Host-2').ipv4], {timeoutMs: 40_000})
      let pingDone = false
      void pinging.then(() => (pingDone = true))
      await sleep(500)
      writeFileSync(inventory, full)
      const init = await mesh(lab, ['init', '-i', inventory])
      assert.equal(init.status, 0, init.stderr)
      assert.deepEqual(init.json.createdKeys, ['Host-4'], 'existing keys kept')
      assert.deepEqual(init.json.hosts.slice(0, 3), hosts, 'existing addresses and keys unchanged')
      hosts = init.json.hosts
      const res = await applyOk(lab, inventory, {
        ...Object.fromEntries(names3.map((n) => [n, {status: 'changed', iface: 'syncconf'}])),
        'Host-4': {status: 'changed', iface: 'up'},
      })
      assert.equal(res.failed, 0)
      assert.ok(res.hosts.every((h) => !h.disruptive), 'nothing disruptive')
      assert.equal(pingDone, false, 'the ping outlasted the apply (else the test proves nothing)')
      const ping = await pinging
      const m = /(\d+) packets transmitted, (\d+) received/.exec(ping.stdout)
      assert.ok(m, `ping output: ${ping.stdout}${ping.stderr}`)
      assert.deepEqual([Number(m[1]), Number(m[2])], [400, 400], `0 packets lost during the apply: ${ping.stdout.trim()}`)
      assert.equal(await ifindex(lab, 'Host-1'), idx1, 'Host-1 wg0 not recreated (syncconf, not down/up)')

      const all = [...names3, 'Host-4']
      await assertPings(lab, 'Host-4', meshIps(names3))
      for (const n of names3) await assertPings(lab, n, meshIps(['Host-4']))
      for (const n of all) assert.equal((await wgPeers(lab, n)).length, 3, `${n}: 3 peers`)
      const answers = await pingNodes(lab, 'Host-1', names3.map((n) => `app@${n}`))
      assert.deepEqual(Object.values(answers), ['pong', 'pong', 'pong'], 'the Erlang cluster survived the change')
    })

    await t.test('removing Host-4 from the inventory prunes it everywhere', async () => {
      const gone = info('Host-4')
      writeFileSync(inventory, withoutLastHost(full))
      // Tearing down Host-4's own interface (issue 7) may or may not be reported: only the remaining hosts are checked.
      const res = await applyOk(lab, inventory, Object.fromEntries(names3.map((n) => [n, {status: 'changed', iface: 'syncconf'}])))
      assert.deepEqual(res.hosts.filter((h) => names3.includes(h.name) && h.status !== 'changed'), [])
      for (const n of names3) {
        const conf = await sh(lab, n, 'cat /etc/wireguard/wg0.conf')
        assert.ok(!conf.includes(gone.publicKey), `${n}: wg0.conf no longer names Host-4's key`)
        const peers = await wgPeers(lab, n)
        assert.equal(peers.length, 2, `${n}: 2 running peers`)
        assert.ok(!peers.includes(gone.publicKey))
        const etcHosts = await sh(lab, n, 'cat /etc/hosts')
        assert.doesNotMatch(etcHosts, /Host-4/)
        assert.equal(etcHosts, seedHostsFile(n) + block, `${n}: back to the 3-host block, same addresses`)
      }
      for (const n of names3) await assertPings(lab, n, meshIps(names3.filter((p) => p !== n)))
    })

    await t.test('an empty known_hosts fails closed: exit 1, unreachable with the fingerprint, hosts untouched', async () => {
      const empty = join(lab.dir, 'empty_known_hosts')
      writeFileSync(empty, '', {mode: 0o600})
      // The 4-host inventory would change every host, were it allowed to connect.
      const strict = join(lab.dir, 'mesh-strict.yaml')
      writeFileSync(strict, full.replace('knownHostsFile: ./known_hosts', 'knownHostsFile: ./empty_known_hosts'))
      assert.notEqual(readFileSync(strict, 'utf8'), full)
      const state = join(lab.dir, '.mesh', 'mesh')
      const snapshot = () => Promise.all(names3.map((n) => sh(lab, n, 'sha256sum /etc/hosts /etc/wireguard/wg0.conf /etc/beam-mesh/wg0/*; wg show wg0 peers | sort')))
      const before = await snapshot()

      const r = await mesh(lab, ['apply', '-i', strict, '--state', state, '--yes'])
      assert.equal(r.status, 1, `exit status: ${r.stderr}`)
      assert.equal(r.json.changed, 0)
      assert.equal(r.json.failed, 4)
      const fingerprints = new Map(
        (await runProcess('ssh-keygen', ['-l', '-f', lab.result.knownHostsFile])).stdout.trim().split('\n').map((l) => {
          const [, fp, addr] = l.split(/\s+/)
          return [addr, fp] as const
        }),
      )
      for (const [i, h] of (r.json as ApplyJson).hosts.entries()) {
        assert.equal(h.status, 'unreachable', JSON.stringify(h))
        const fp = fingerprints.get(lab.host(i).address)!
        assert.ok(fp?.startsWith('SHA256:'))
        assert.ok(h.error?.includes(fp), `${h.name}: error names the fingerprint ${fp}: ${h.error}`)
        assert.match(h.error!, /known_hosts/)
      }
      assert.equal(readFileSync(empty, 'utf8'), '', 'no key was recorded')
      assert.deepEqual(await snapshot(), before, 'nothing changed on the hosts')
    })

    await t.test('hosts that come up in one apply have their sessions when it returns (8 cold applies of 4 hosts)', async () => {
      // Hosts that come up within a round trip of each other can cross their first handshakes: no session on
      // either side until WireGuard retries, 5-15 s later. On this lab that was one pair in about five cold
      // applies. Apply checks the pairs it brought up and starts a crossed one again from one side.
      writeFileSync(inventory, full)
      assert.equal((await mesh(lab, ['init', '-i', inventory])).status, 0)
      const all = [...names3, 'Host-4']
      let restarted = 0
      for (let round = 1; round <= 8; round++) {
        await Promise.all(all.map((n) => lab.exec(n, ['sh', '-c', 'wg-quick down wg0 2>/dev/null; true'])))
        const res = await applyOk(lab, inventory, Object.fromEntries(all.map((n) => [n, {status: 'changed', iface: 'up'}])))
        const tables = await Promise.all(all.map((n) => sh(lab, n, 'wg show wg0 latest-handshakes')))
        for (const [i, table] of tables.entries()) {
          const rows = table.trim().split('\n').map((l) => l.split('\t'))
          assert.equal(rows.length, 3, `${all[i]}: 3 peers`)
          const none = rows.filter(([, at]) => Number(at) === 0).map(([key]) => hosts.find((h) => h.publicKey === key)?.name ?? key)
          assert.deepEqual(none, [], `round ${round}: ${all[i]} has no session yet with ${none.join(', ')} when apply returned; notes: ${JSON.stringify(res.hosts.map((h) => h.notes))}`)
        }
        assert.deepEqual(res.warnings ?? [], [])
        restarted += res.hosts.filter((h) => h.notes.some((n) => n.startsWith(HANDSHAKE_RESTARTED_NOTE))).length
      }
      console.log(`fresh tunnels: ${restarted} crossed pair(s) started again in 8 cold applies of 4 hosts`)
    })
  } finally {
    // Stop the Erlang nodes and EPMDs we started (lab down would kill them anyway).
    await Promise.all(
      names3.map(async (n) => {
        const env = await erlHome(lab, n).catch(() => ({}))
        await lab
          .exec(n, ['sh', '-c', `${ERL_PREP} && erl -sname stop -noshell -eval 'rpc:call(list_to_atom("app@" ++ net_adm:localhost()), init, stop, []), halt().'; sleep 0.5; epmd -kill`], {env, timeoutMs: 10_000})
          .catch(() => undefined)
      }),
    )
    await stopLab(lab)
  }
})
