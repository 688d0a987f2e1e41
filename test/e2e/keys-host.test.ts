// e2e (issue 16): network.keys: host on one lab of 3 hosts. A local-key mesh of two hosts moves to host-made keys
// (a rotation), init offline lists the third host's key as pending, adding it keeps a running ping lossless,
// rotate-keys makes the new key on the host, a key replaced on a host is named by the plan and rolled out, and
// removing a host tears it down.
// Then: none of the host-made private keys (base64 or raw) ever appeared in what the CLI sent or received (a spy
// on the ssh transport), in its state dir, stdout, stderr or --json. Keys are read over the lab's own channel.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireBuiltCli, requireLab, runProcess, startLab, stopLab} from './harness.js'
import {pingDuring} from './ping.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

after(async () => {
  await stopLab()
})

/** Everything the CLI printed, for the leak check at the end. */
const printed: string[] = []

function meshCli(lab: Lab) {
  const spy = join(lab.dir, 'transport-spy.bin')
  return async (args: string[]) => {
    const r = await runProcess(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {timeoutMs: 180_000, env: {MESH_TRANSPORT_SPY: spy}})
    printed.push(r.stdout, r.stderr)
    return r
  }
}

const stateDir = (lab: Lab) => join(lab.dir, '.mesh', 'inventory')
const stateOf = (lab: Lab) => JSON.parse(readFileSync(join(stateDir(lab), 'state.json'), 'utf8'))
const meshIp = (lab: Lab, name: string): string => stateOf(lab).hosts[name].ipv4

/** The host's key files, read over the lab's own channel (nsenter), never through the CLI. */
async function hostKeys(lab: Lab, name: string): Promise<string[]> {
  const r = await lab.exec(name, ['sh', '-c', 'cat /etc/wireguard/wg0.key /etc/wireguard/wg0.key.next 2>/dev/null; true'])
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
}

async function pubOnHost(lab: Lab, name: string): Promise<string> {
  return (await lab.exec(name, ['wg', 'show', 'wg0', 'public-key'])).stdout.trim()
}

/** Continuous ping (every 50 ms) while fn runs: sent, lost. */
async function pingsAll(lab: Lab, names: string[]) {
  for (const a of names)
    for (const b of names) {
      if (a === b) continue
      const r = await lab.exec(a, ['ping', '-c', '1', '-W', '3', meshIp(lab, b)])
      assert.equal(r.status, 0, `${a} -> ${b}: ${r.stdout}${r.stderr}`)
    }
}

/**
 * The forms a key can take on the wire: its base64 text, its raw 32 bytes, and that text inside a base64 stream
 * (the facts encode file contents), at each of the 3 alignments: the middle of that encoding does not depend on
 * the bytes around the key.
 */
function forms(key: string): (string | Buffer)[] {
  const text = Buffer.from(key)
  const inBase64 = [0, 1, 2].map((a) => Buffer.concat([Buffer.alloc(a), text]).toString('base64').slice(4, -4))
  return [key, Buffer.from(key, 'base64'), ...inBase64]
}

/** Every file under dir, recursively (the state dir is small). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
}

test('network.keys: host: migration, init, adding a host, rotation, changed key; no private key crosses the wire', {timeout: 900_000}, async (t) => {
  if (!requireLab(t) || !requireBuiltCli(t, 'apply.js')) return
  const lab = await startLab(3)
  const mesh = meshCli(lab)
  const inv = lab.result.inventory
  const [h1, h2, h3] = lab.hosts.map((h) => h.name)
  const full = readFileSync(inv, 'utf8')
  // The third host joins later: cut its lines out of the inventory.
  const withoutH3 = full.replace(new RegExp(`  - name: ${h3}\\n(    .*\\n)+`), '')
  const hostMode = (text: string) => text.replace(/^network:\n/m, 'network:\n  keys: host\n')
  writeFileSync(inv, withoutH3)
  const apply = async (extra: string[] = []) => {
    const r = await mesh(['apply', '-i', inv, '--yes', '--no-diff', ...extra])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    return r
  }
  await apply() // local keys: made in the state dir and pushed (what host mode avoids)
  // Positive controls for the spy: a local-mode key crossed the wire as text (the config written) and, in a
  // local-mode plan, inside the base64 the facts use for file contents (the config read back). Only a config that
  // differs from the one apply would write is read back: h1's is changed by hand first; h2's, unchanged, is only
  // named by its sha256, so its key must not come back at all.
  assert.equal((await lab.exec(h1, ['sh', '-c', 'echo "# changed by hand" >> /etc/wireguard/wg0.conf'])).status, 0)
  assert.equal((await mesh(['plan', '-i', inv, '--no-diff'])).status, 0)
  const localKey = readFileSync(join(stateDir(lab), 'keys', `${h1}.key`), 'utf8').trim()
  const unchangedKey = readFileSync(join(stateDir(lab), 'keys', `${h2}.key`), 'utf8').trim()
  const hostMade = new Set<string>()
  const remember = async (names: string[]) => {
    for (const n of names) for (const k of await hostKeys(lab, n)) hostMade.add(k)
  }

  await t.test('local -> host is a rotation: host-made keys, local private keys deleted, said by the plan', async () => {
    const before = {[h1]: stateOf(lab).hosts[h1].publicKey, [h2]: stateOf(lab).hosts[h2].publicKey}
    writeFileSync(inv, hostMode(withoutH3))
    const plan = await mesh(['plan', '-i', inv, '--no-diff'])
    assert.equal(plan.status, 0, plan.stdout + plan.stderr)
    assert.match(plan.stdout, new RegExp(`${h1}: moves to a key made on the host.*keys/${h1}\\.key is then deleted from the state dir`))
    assert.deepEqual(await hostKeys(lab, h1), [], 'a plan makes nothing on the host')
    let out = ''
    const p = await pingDuring(lab, h1, meshIp(lab, h2), async () => void (out = (await apply()).stdout))
    console.log(`MIGRATION local->host (ping every 50 ms): ${p.lost}/${p.sent} lost; ${p.timeline}`)
    // On failure: when the pings were lost against when apply ran, and apply's plan and steps for each host.
    assert.ok(p.lost * 50 < 1000, `lost ${p.lost} packets (>= 1 s): ${p.timeline}\napply said:\n${out}`)
    const st = stateOf(lab)
    assert.equal(st.keys, 'host')
    for (const h of [h1, h2]) {
      assert.notEqual(st.hosts[h].publicKey, before[h])
      assert.equal(st.hosts[h].publicKey, await pubOnHost(lab, h))
      const mode = (await lab.exec(h, ['stat', '-c', '%a %U', '/etc/wireguard/wg0.key'])).stdout.trim()
      assert.equal(mode, '600 root')
    }
    assert.deepEqual(readdirSync(join(stateDir(lab), 'keys')).filter((f) => f.includes('.key')), [], 'local private keys deleted')
    await remember([h1, h2])
    await pingsAll(lab, [h1, h2])
    assert.match((await apply()).stdout, /Nothing to change/)
  })

  await t.test('init offline lists the new host as pending; apply adds it with 0 pings lost', async () => {
    writeFileSync(inv, hostMode(full))
    const out = join(lab.dir, 'out')
    const init = await mesh(['init', '-i', inv, '-o', out, '--json'])
    assert.equal(init.status, 0, init.stdout + init.stderr)
    const res = JSON.parse(init.stdout)
    assert.equal(res.keys, 'host')
    assert.deepEqual(res.pendingKeys, [h3])
    assert.equal(res.hosts.find((h: {name: string}) => h.name === h3).publicKey, undefined)
    const human = await mesh(['init', '-i', inv, '-o', out])
    assert.match(human.stdout, new RegExp(`public keys pending for ${h3}: \`mesh apply\` collects them`))
    const conf1 = readFileSync(join(out, h1, 'wg0.conf'), 'utf8')
    assert.match(conf1, /^PrivateKey = \{host-key\}$/m)
    assert.doesNotMatch(conf1, new RegExp(`# ${h3}`), 'no peer entry without a public key')
    let said = ''
    const p = await pingDuring(lab, h1, meshIp(lab, h2), async () => void (said = (await apply()).stdout))
    console.log(`ADD HOST in host mode (ping every 50 ms): ${p.lost}/${p.sent} lost`)
    assert.equal(p.lost, 0, `${p.timeline}\napply said:\n${said}`)
    assert.equal(stateOf(lab).hosts[h3].publicKey, await pubOnHost(lab, h3))
    await remember([h3])
    await pingsAll(lab, [h1, h2, h3])
  })

  await t.test('rotate-keys makes the new key on the host; peers switch first; committed on the host', async () => {
    const before = stateOf(lab).hosts[h2].publicKey
    let out = ''
    const p = await pingDuring(lab, h1, meshIp(lab, h2), async () => {
      const r = await mesh(['rotate-keys', h2, '-i', inv, '--yes', '--no-diff'])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.match(r.stdout, /done, new keys committed/)
      out = r.stdout
    })
    console.log(`ROTATION in host mode (ping every 50 ms): ${p.lost}/${p.sent} lost; ${p.timeline}`)
    assert.ok(p.lost * 50 < 1000, `lost ${p.lost} packets (>= 1 s): ${p.timeline}\nrotate-keys said:\n${out}`)
    const st = stateOf(lab)
    assert.notEqual(st.hosts[h2].publicKey, before)
    assert.equal(st.hosts[h2].pendingPublicKey, undefined)
    assert.equal(st.hosts[h2].rotateOnHost, undefined)
    assert.equal(st.hosts[h2].publicKey, await pubOnHost(lab, h2))
    assert.equal((await lab.exec(h2, ['test', '-e', '/etc/wireguard/wg0.key.next'])).status, 1, 'pending key renamed')
    for (const h of [h1, h3]) assert.ok((await lab.exec(h, ['wg', 'show', 'wg0', 'peers'])).stdout.includes(st.hosts[h2].publicKey))
    await remember([h2])
    await pingsAll(lab, [h1, h2, h3])
  })

  await t.test('a key replaced on the host: the plan names it, apply gives peers the new public key', async () => {
    assert.equal((await lab.exec(h3, ['sh', '-c', 'umask 077; wg genkey > /etc/wireguard/wg0.key'])).status, 0)
    await remember([h3])
    const plan = await mesh(['plan', '-i', inv, '--no-diff'])
    assert.match(plan.stdout, new RegExp(`${h3}'s key on the host differs from the recorded one`))
    await apply()
    const st = stateOf(lab)
    assert.equal(st.hosts[h3].publicKey, await pubOnHost(lab, h3))
    await pingsAll(lab, [h1, h2, h3])
    const doc = await mesh(['doctor', '-i', inv, '--json', '--no-cluster'])
    const report = JSON.parse(doc.stdout)
    assert.deepEqual(report.findings.filter((f: {check: string}) => f.check === 'wg-key'), [], 'every interface runs the recorded public key')
  })

  await t.test('remove in host mode: the teardown reads the config with its key hidden; the key stays on its host', async () => {
    await remember([h3])
    const r = await mesh(['remove', h3, '-i', inv, '--yes', '--no-diff'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.equal(stateOf(lab).archived.find((a: {name: string}) => a.name === h3)?.teardownPending, false)
    assert.equal((await lab.exec(h3, ['test', '-e', '/etc/wireguard/wg0.conf'])).status, 1)
    await pingsAll(lab, [h1, h2])
  })

  await t.test('no host-made private key crossed the wire or reached the state dir, stdout, stderr or --json', async () => {
    await remember([h1, h2])
    assert.ok(hostMade.size >= 5, `host-made keys seen: ${hostMade.size}`)
    const spy = readFileSync(join(lab.dir, 'transport-spy.bin'))
    // base64 output is wrapped at 76 columns: search the stream with its line breaks taken out too.
    const unwrapped = Buffer.from(spy.toString('latin1').replace(/\r?\n/g, ''), 'latin1')
    const [text, , ...encoded] = forms(localKey)
    assert.ok(spy.includes(text), 'positive control: the local-mode key written by the first apply is in the spy file')
    assert.ok(encoded.some((e) => unwrapped.includes(e)), 'positive control: the local-mode key read back (base64) by the plan is in the spy file')
    const [, , ...unchangedEncoded] = forms(unchangedKey)
    assert.ok(!unchangedEncoded.some((e) => unwrapped.includes(e)), 'an unchanged config is named by its sha256, never read back')
    const haystacks: [string, Buffer][] = [['transport', spy], ['transport (unwrapped)', unwrapped], ['printed', Buffer.from(printed.join('\n'))]]
    for (const f of filesUnder(stateDir(lab))) if (statSync(f).isFile()) haystacks.push([f, readFileSync(f)])
    for (const f of filesUnder(join(lab.dir, 'out'))) haystacks.push([f, readFileSync(f)])
    for (const key of hostMade) {
      assert.equal(Buffer.from(key, 'base64').length, 32)
      for (const [where, bytes] of haystacks) {
        forms(key).forEach((form, i) => assert.ok(!bytes.includes(form), `a host private key is in ${where} (form ${i}: base64, raw, base64 of the text at 3 offsets)`))
      }
    }
    assert.ok(existsSync(join(stateDir(lab), 'state.json')))
  })
})
