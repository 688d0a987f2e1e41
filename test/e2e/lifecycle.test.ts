// e2e (issue 7): removing a host (pruned on peers, torn down on itself), key rotation with a continuous ping
// measuring the outage, an interrupted rotation finished by a re-run, and per-pair preshared keys.
// Needs root + lab packages; skips loudly (fails under CI) otherwise. Runs its lab on 198.18.9.0/24.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireLab, runProcess, startLab, stopLab} from './harness.js'
import {pingDuring} from './ping.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

after(async () => {
  await stopLab()
})

const mesh = (args: string[]) => runProcess(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {timeoutMs: 120_000})
const stateOf = (lab: Lab) => JSON.parse(readFileSync(join(lab.dir, '.mesh', 'inventory', 'state.json'), 'utf8'))

async function applyOk(lab: Lab, extra: string[] = []) {
  const r = await mesh(['apply', '-i', lab.result.inventory, '--yes', '--no-diff', ...extra])
  assert.equal(r.status, 0, r.stdout + r.stderr)
  return r
}

/** Mesh addresses (10.99.0.N) by host name, from state.json. */
const meshIp = (lab: Lab, name: string): string => stateOf(lab).hosts[name].ipv4

/** Continuous ping (every 50 ms) from one host to a mesh address while fn runs; lost and longest stall. */
async function pingsAll(lab: Lab, names: string[]) {
  for (const a of names)
    for (const b of names) {
      if (a === b) continue
      const r = await lab.exec(a, ['ping', '-c', '1', '-W', '3', meshIp(lab, b)])
      assert.equal(r.status, 0, `${a} -> ${b}: ${r.stdout}${r.stderr}`)
    }
}

test('lifecycle: remove, rotate keys (with measured outage), interrupted rotation, preshared keys', {timeout: 600_000}, async (t) => {
  if (!requireLab(t)) return
  const lab = await startLab(4)
  const inv = lab.result.inventory
  const all = lab.hosts.map((h) => h.name)
  const kept = all.slice(0, 3)
  await applyOk(lab)

  await t.test('remove Host-4: pruned on every peer, torn down on itself, archived with teardownPending=false', async () => {
    const gone = all[3]
    const goneKey = stateOf(lab).hosts[gone].publicKey
    const r = await mesh(['remove', gone, '-i', inv, '--yes', '--no-diff'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, new RegExp(`peers: -${gone}`))
    assert.match(r.stdout, new RegExp(`${gone} \\(removed from the inventory\\): teardown: wg-quick down wg0, remove /etc/wireguard/wg0.conf`))
    assert.doesNotMatch(readFileSync(inv, 'utf8'), new RegExp(`name: ${gone}\\b`))
    assert.match(readFileSync(inv, 'utf8'), /^# beam-mesh lab inventory/m, 'comments kept')
    for (const h of kept) {
      const peers = await lab.exec(h, ['wg', 'show', 'wg0', 'peers'])
      assert.doesNotMatch(peers.stdout, new RegExp(goneKey.replace(/[+/]/g, '\\$&')), `${h} still has ${gone} as a peer`)
      assert.doesNotMatch((await lab.exec(h, ['cat', '/etc/hosts'])).stdout, new RegExp(`${gone}-wg`))
    }
    const left = await lab.exec(gone, ['sh', '-c', 'ip link show wg0 >/dev/null 2>&1 && echo WG; ls -A /etc/wireguard /etc/beam-mesh; grep -c "BEGIN beam-mesh" /etc/hosts || true'])
    assert.equal(left.stdout.replace(/\/etc\/\S+:\n/g, '').trim(), '0', `left on ${gone}: ${left.stdout}`)
    const archived = stateOf(lab).archived.find((a: {name: string}) => a.name === gone)
    assert.equal(archived?.teardownPending, false)
    await pingsAll(lab, kept)
    const again = await applyOk(lab)
    assert.match(again.stdout, /Nothing to change/)
  })

  await t.test('rotate-keys of one host: new key everywhere, outage bounded (continuous ping both ways)', async () => {
    const [a, b] = kept
    const before = stateOf(lab).hosts[a].publicKey
    const toRotated = await pingDuring(lab, b, meshIp(lab, a), async () => {
      const r = await mesh(['rotate-keys', a, '-i', inv, '--yes', '--no-diff'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.match(r.stdout, /done, new keys committed/)
    })
    const fromRotated = await pingDuring(lab, a, meshIp(lab, b), async () => {
      assert.equal((await mesh(['rotate-keys', a, '-i', inv, '--yes', '--no-diff'])).status, 0)
    })
    console.log(`ROTATION OUTAGE (ping every 50 ms): peer->rotated host: ${toRotated.lost}/${toRotated.sent} lost, longest reply ${toRotated.maxRttMs} ms; rotated host->peer: ${fromRotated.lost}/${fromRotated.sent} lost, longest reply ${fromRotated.maxRttMs} ms`)
    for (const p of [toRotated, fromRotated]) {
      assert.ok(p.lost * 50 < 1000, `lost ${p.lost} packets (>= 1 s): ${p.timeline}`)
      assert.ok(p.maxRttMs < 2000, `a reply took ${p.maxRttMs} ms`)
    }
    const st = stateOf(lab)
    assert.notEqual(st.hosts[a].publicKey, before)
    assert.equal(st.hosts[a].pendingPublicKey, undefined)
    assert.ok(!existsSync(join(lab.dir, '.mesh', 'inventory', 'keys', `${a}.key.next`)))
    for (const h of kept.filter((x) => x !== a)) assert.match((await lab.exec(h, ['wg', 'show', 'wg0', 'peers'])).stdout, new RegExp(st.hosts[a].publicKey.replace(/[+/]/g, '\\$&')))
    await pingsAll(lab, kept)
  })

  await t.test('interrupted rotation (a peer cannot write its config) is finished by a plain apply', async () => {
    const [a, , c] = kept
    assert.equal((await lab.exec(c, ['mount', '-o', 'remount,bind,ro', '/etc/wireguard'])).status, 0)
    let r
    try {
      r = await mesh(['rotate-keys', a, '-i', inv, '--yes', '--no-diff'])
    } finally {
      await lab.exec(c, ['mount', '-o', 'remount,bind,rw', '/etc/wireguard'])
    }
    assert.equal(r.status, 1, r.stdout + r.stderr)
    assert.match(r.stdout, /NOT finished/)
    const next = join(lab.dir, '.mesh', 'inventory', 'keys', `${a}.key.next`)
    assert.ok(existsSync(next), 'pending key kept')
    assert.ok(stateOf(lab).hosts[a].pendingPublicKey)
    const fin = await applyOk(lab)
    assert.match(fin.stdout, /done, new keys committed/)
    assert.ok(!existsSync(next))
    assert.equal(stateOf(lab).hosts[a].pendingPublicKey, undefined)
    await pingsAll(lab, kept)
  })

  await t.test('preshared keys: one per pair, the same on both ends, only there; rotation keeps connectivity', async () => {
    writeFileSync(inv, readFileSync(inv, 'utf8').replace(/^network:\n/m, 'network:\n  presharedKeys: true\n'))
    const pskOf = async (h: string) => {
      const conf = (await lab.exec(h, ['cat', '/etc/wireguard/wg0.conf'])).stdout
      const out = new Map<string, string>()
      for (const m of conf.matchAll(/^# (\S+)\n\[Peer\]\nPublicKey = \S+\nPresharedKey = (\S+)$/gm)) out.set(m[1], m[2])
      return out
    }
    const check = async () => {
      const psks = new Map<string, Map<string, string>>()
      for (const h of kept) psks.set(h, await pskOf(h))
      const seen = new Set<string>()
      for (const h of kept) {
        assert.equal(psks.get(h)!.size, kept.length - 1, `${h} has a PresharedKey for every peer`)
        for (const [p, k] of psks.get(h)!) {
          assert.equal(psks.get(p)!.get(h), k, `${h}/${p}: same key on both ends`)
          seen.add(k)
        }
      }
      assert.equal(seen.size, (kept.length * (kept.length - 1)) / 2, 'a different key per pair')
      return seen
    }
    await applyOk(lab)
    const first = await check()
    await pingsAll(lab, kept)
    const p = await pingDuring(lab, kept[1], meshIp(lab, kept[0]), async () => {
      const r = await mesh(['rotate-keys', '--psk', '-i', inv, '--yes', '--no-diff'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.match(r.stdout, /3 preshared key\(s\): done/)
    })
    console.log(`PSK ROTATION (ping every 50 ms): ${p.lost}/${p.sent} lost, longest reply ${p.maxRttMs} ms`)
    const second = await check()
    assert.equal([...second].filter((k) => first.has(k)).length, 0, 'every pair got a new key')
    assert.ok(p.lost * 50 < 1000, `lost ${p.lost} packets (>= 1 s): ${p.timeline}`)
    await pingsAll(lab, kept)
  })
})
