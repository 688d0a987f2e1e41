// e2e: no secret ever reaches the terminal. A 3-host lab with preshared keys on goes through init, apply --dry-run,
// apply --yes and a no-op re-apply (each plain and --json); everything the CLI printed is scanned for every private
// key, preshared key and the cookie. Then the modes of every secret, locally and on the hosts.
import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, test} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import {parse, stringify} from 'yaml'

import {UserError} from '../../src/core/errors.js'
import {Lab, requireLab, runProcess, startLab, stopLab} from './harness.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

after(async () => {
  await stopLab()
})

/** Another suite may hold the same addresses: wait for it (never tear down a lab this test did not make). */
async function startLabPatiently(n: number, waitMs = 6 * 60_000): Promise<Lab> {
  const until = Date.now() + waitMs
  for (;;) {
    try {
      return await startLab(n)
    } catch (err) {
      const busy = err instanceof UserError && /already/.test(err.message)
      if (!busy || Date.now() > until) throw err
      console.error(`secrets.test: lab addresses busy (${err.message}); retrying in 10 s`)
      await sleep(10_000)
    }
  }
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8)

/** Every secret in the state: private keys, preshared keys, the cookie. */
function secretsOf(state: string): {name: string; value: string}[] {
  const read = (dir: string) => readdirSync(join(state, dir)).map((f) => ({name: `${dir}/${f}`, value: readFileSync(join(state, dir, f), 'utf8').trim()}))
  return [...read('keys'), ...read('secrets')]
}

test('secrets: no private key, preshared key or cookie in any output; 0600/0700 locally and on the hosts', async (t) => {
  if (!requireLab(t)) return
  const lab = await startLabPatiently(3)
  try {
    // A copy of the lab inventory beside it (its paths are relative) with preshared keys on.
    const inv = join(lab.dir, 'psk.yaml')
    const doc = parse(readFileSync(lab.result.inventory, 'utf8'))
    doc.network.presharedKeys = true
    writeFileSync(inv, stringify(doc))
    const state = join(lab.dir, 'state')
    const out = join(lab.dir, 'out')

    const transcript: {args: string[]; stdout: string; stderr: string}[] = []
    const mesh = async (...args: string[]) => {
      const r = await runProcess(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {timeoutMs: 180_000, env: {NO_COLOR: '1'}})
      transcript.push({args, stdout: r.stdout, stderr: r.stderr})
      assert.equal(r.status, 0, `mesh ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`)
      return r
    }
    const common = ['-i', inv, '--state', state]
    await mesh('init', ...common, '--out', out)
    await mesh('init', ...common, '--out', out, '--json')
    await mesh('apply', ...common, '--dry-run')
    await mesh('apply', ...common, '--dry-run', '--json')
    const applied = await mesh('apply', ...common, '--yes')
    await mesh('apply', ...common, '--yes', '--json')
    await mesh('apply', ...common, '--yes')

    await t.test('the runs did real work: keys made, a plan shown, hosts brought up', () => {
      assert.match(transcript[0].stdout, /keys: created for Host-1, Host-2, Host-3/)
      // The dry-run plan lists the cookie file with its diff masked (it once showed the cookie itself).
      assert.match(transcript[2].stdout, /\/etc\/beam-mesh\/wg0\/cookie \(new\)\n.*\n\s+\+\(secret\)\n/)
      assert.ok(applied.stdout.length > 0)
      const wg = transcript[3].stdout
      assert.doesNotThrow(() => JSON.parse(wg), 'apply --dry-run --json prints JSON')
    })

    await t.test('no secret appears in any stdout or stderr (whole or its first 16 characters)', () => {
      const secrets = secretsOf(state)
      const names = secrets.map((s) => s.name).sort()
      assert.equal(names.filter((n) => n.startsWith('keys/')).length, 3, names.join(', '))
      assert.equal(names.filter((n) => n.endsWith('.psk')).length, 3, 'one preshared key per pair of 3 hosts')
      assert.ok(names.includes('secrets/cookie'), names.join(', '))
      for (const s of secrets) assert.ok(s.value.length >= 32, `${s.name} looks empty`)
      const leaks: string[] = []
      for (const run of transcript) {
        for (const [stream, text] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
          for (const s of secrets) {
            const at = text.indexOf(s.value.slice(0, 16))
            if (at < 0) continue
            // The context (secret masked) says where it leaked: which line of which output.
            const around = text.slice(Math.max(0, at - 80), at + s.value.length + 20).replaceAll(s.value, '<SECRET>').replaceAll(s.value.slice(0, 16), '<SECRET…>')
            leaks.push(`${s.name} in ${stream} of mesh ${run.args.join(' ')}: …${around}…`)
          }
        }
      }
      assert.deepEqual(leaks, [])
    })

    await t.test('local modes: state, keys, secrets and output dirs 0700; every secret and wg config 0600', () => {
      for (const d of [state, join(state, 'keys'), join(state, 'secrets'), out]) assert.equal(mode(d), '700', d)
      for (const s of secretsOf(state)) assert.equal(mode(join(state, s.name)), '600', s.name)
      for (const h of lab.hosts) {
        assert.equal(mode(join(out, h.name)), '700', `${out}/${h.name}`)
        assert.equal(mode(join(out, h.name, 'wg0.conf')), '600', `${out}/${h.name}/wg0.conf`)
      }
    })

    await t.test('modes on every host: /etc/wireguard 0700, wg0.conf 0600, /etc/beam-mesh/wg0/cookie 0600', async () => {
      for (const h of lab.hosts) {
        const peers = await lab.ssh(h, 'wg show wg0 preshared-keys | wc -l')
        assert.equal(peers.stdout.trim(), '2', `${h.name}: wg0 is up with 2 peers: ${peers.stderr}`)
        const r = await lab.ssh(h, 'stat -c "%a %U %n" /etc/wireguard /etc/wireguard/wg0.conf /etc/beam-mesh/wg0/cookie')
        assert.equal(r.status, 0, r.stderr)
        assert.deepEqual(r.stdout.trim().split('\n'), [
          '700 root /etc/wireguard',
          '600 root /etc/wireguard/wg0.conf',
          '600 root /etc/beam-mesh/wg0/cookie',
        ], h.name)
      }
    })
  } finally {
    await stopLab(lab)
  }
})
