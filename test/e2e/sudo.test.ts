// e2e (issue 8): `sudo` needing a password. Host-2 is reached as a non-root user, meshop, whose sudo asks for a
// password (in German: meshop's language is German): `mesh apply` must fail that host at once (never wait for a
// prompt) with a message naming the user and the
// fix (NOPASSWD or root), apply the other hosts, leave Host-2 untouched and exit 1; with NOPASSWD the re-run applies
// Host-2 through `sudo -n` and the mesh pings. The machine's own /etc/passwd, /etc/shadow, /etc/group and /etc/sudoers
// are never changed: Host-2 gets private copies, bind-mounted in its own mount namespace only.
// Needs root + lab packages + sudo; skips loudly (fails under CI). Own lab: bmsu, 198.18.80.0/24.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import type {TestContext} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireLab, runProcess, startLabWaiting, stopLab} from './harness.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const USER = 'meshop'
const NAMES = ['Host-1', 'Host-2', 'Host-3']
/** The files Host-2 gets private copies of (bind mounts in its mount namespace). */
const PRIVATE = ['/etc/passwd', '/etc/shadow', '/etc/group', '/etc/sudoers']
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

after(async () => {
  await stopLab() // whatever a failed test left running
})

/** null when sudo can be used here; otherwise why not. */
function sudoSkipReason(): string | null {
  if (spawnSync('sh', ['-c', 'command -v sudo'], {stdio: 'ignore'}).status !== 0) return 'sudo is not installed (apt-get install sudo)'
  if (!existsSync('/etc/sudoers')) return 'sudo is installed but /etc/sudoers is missing (reinstall the sudo package)'
  return null
}

/** Like requireLab: skips LOUDLY without sudo, and with $CI set a missing sudo is a failure. */
function requireSudo(t: TestContext): boolean {
  const reason = sudoSkipReason()
  if (!reason) return true
  if (process.env.CI) throw new Error(`e2e sudo test prerequisite missing in CI (CI=${process.env.CI}): ${reason}`)
  const msg = `SKIPPED e2e lab test "${t.name}": ${reason}`
  console.error(`\n${'!'.repeat(msg.length)}\n${msg}\n${'!'.repeat(msg.length)}\n`)
  t.skip(reason)
  return false
}

interface ApplyJson {
  hosts: {name: string; status: string; error?: string}[]
  changed: number
  failed: number
}
interface Run {
  status: number | null
  stdout: string
  stderr: string
  json?: ApplyJson
  ms: number
}

/** The real CLI. HOME is an empty directory so the operator's ~/.ssh cannot leak in. */
function apply(lab: Lab, inventory: string): Promise<Run> {
  const started = Date.now()
  const home = join(lab.dir, 'cli-home')
  mkdirSync(home, {recursive: true})
  const args = [BIN, 'apply', '-i', inventory, '--state', join(lab.dir, 'sudo-state'), '--yes', '--json']
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, HOME: home}, timeout: 60_000})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => {
      let json: ApplyJson | undefined
      try {
        json = stdout.trim().startsWith('{') ? JSON.parse(stdout) : undefined
      } catch {
        json = undefined
      }
      resolve({status, stdout, stderr, json, ms: Date.now() - started})
    })
  })
}

function statuses(r: Run): Record<string, string> {
  assert.ok(r.json?.hosts, `apply printed no result (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return Object.fromEntries(r.json.hosts.map((h) => [h.name, h.status]))
}

async function sh(lab: Lab, host: string, script: string, args: string[] = []): Promise<string> {
  const r = await lab.exec(host, ['sh', '-c', script, 'sh', ...args])
  assert.equal(r.status, 0, `${host}: ${script}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** Everything under the managed paths -> sha256, plus the listing (so a new empty file or a temp file shows too). */
const checksums = (lab: Lab, host: string) =>
  sh(lab, host, 'ls -lA /etc/wireguard /etc/beam-mesh; for f in /etc/hosts /etc/wireguard/* /etc/beam-mesh/wg0/*; do [ -f "$f" ] && echo "$f $(sha256sum < "$f")"; done; true')

/** An unused uid (and gid) on this machine, for meshop. */
function freeId(): number {
  const used = new Set(
    ['/etc/passwd', '/etc/group'].flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l) => Number(l.split(':')[2]))),
  )
  for (let id = 64_180; id < 65_000; id++) if (!used.has(id)) return id
  throw new Error('no free uid in 64180..64999')
}

test('e2e: sudo asking a password on one host: that host fails clearly and untouched, the others apply; NOPASSWD fixes it', {timeout: 150_000}, async (t) => {
  if (!requireLab(t) || !requireSudo(t)) return
  const lab = await startLabWaiting(3, {}, 60_000)
  const h2 = lab.host('Host-2')
  const mounted: string[] = []
  try {
    // --- meshop, on Host-2 only ---------------------------------------------------------------------------------------
    const id = freeId()
    // meshop's home lives in the lab directory (mkdtemp: 0700); let meshop traverse it (not list it).
    chmodSync(lab.dir, 0o711)
    const home = join(lab.dir, 'meshop-home')
    mkdirSync(join(home, '.ssh'), {recursive: true})
    writeFileSync(join(home, '.ssh', 'authorized_keys'), readFileSync(`${lab.result.identityFile}.pub`, 'utf8'), {mode: 0o600})
    for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys')]) chownSync(p, id, id)
    chmodSync(home, 0o700)
    chmodSync(join(home, '.ssh'), 0o700)

    const etc = join(lab.dir, 'meshop-etc')
    mkdirSync(etc, {mode: 0o755})
    const withLine = (file: string, line: string) => `${readFileSync(file, 'utf8').replace(/\n?$/, '\n')}${line}\n`
    // meshop's login shell makes Host-2 a host whose language is German (gettext reads LANGUAGE in any locale but C):
    // its sudo then refuses in German, and the CLI must still name the failure and its fix.
    const shell = join(lab.dir, 'meshop-shell')
    writeFileSync(shell, '#!/bin/sh\nexport LANGUAGE=de LC_ALL=C.UTF-8\nexec /bin/sh "$@"\n', {mode: 0o755})
    writeFileSync(join(etc, 'passwd'), withLine('/etc/passwd', `${USER}:x:${id}:${id}:beam-mesh sudo e2e:${home}:${shell}`), {mode: 0o644})
    // `*`: no password can match (so sudo's own check can never pass), yet the account is not locked (`!`), which
    // sshd (UsePAM no) would refuse.
    writeFileSync(join(etc, 'shadow'), withLine('/etc/shadow', `${USER}:*:19000:0:99999:7:::`), {mode: 0o600})
    writeFileSync(join(etc, 'group'), withLine('/etc/group', `${USER}:x:${id}:`), {mode: 0o644})
    // The machine's own sudoers (Debian's: env_reset, secure_path, @includedir) with meshop's rule last, so it wins;
    // sudo's time stamps go to the lab directory, not the machine's shared /run/sudo.
    const sudoers = (rule: string) =>
      withLine('/etc/sudoers', `Defaults timestampdir=${join(lab.dir, 'sudo-ts')}\n${USER} ALL=(ALL:ALL) ${rule}`)
    writeFileSync(join(etc, 'sudoers'), sudoers('ALL'), {mode: 0o440})

    for (const target of PRIVATE) {
      await sh(lab, 'Host-2', 'mount --bind "$1" "$2"', [join(etc, target.slice('/etc/'.length)), target])
      mounted.push(target)
    }
    assert.equal((await sh(lab, 'Host-2', 'id -un "$1"', [USER])).trim(), USER, 'meshop exists on Host-2')
    assert.notEqual((await lab.exec('Host-1', ['id', '-u', USER])).status, 0, 'meshop exists on Host-2 only')
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes(`${USER}:`), "the machine's /etc/passwd untouched")

    // The lab's sshd reads one root-only AuthorizedKeysFile; meshop's own ~/.ssh/authorized_keys is added as a second
    // one (StrictModes is off in the lab). SIGHUP makes sshd re-exec itself: same pid, namespaces and mounts.
    const config = readFileSync(h2.sshdConfig, 'utf8')
    assert.match(config, /^AuthorizedKeysFile \S+$/m)
    writeFileSync(h2.sshdConfig, config.replace(/^AuthorizedKeysFile \S+$/m, '$& .ssh/authorized_keys'))
    process.kill(h2.pid!, 'SIGHUP')
    const asMeshop = (command: string) =>
      runProcess('ssh', [...lab.sshArgs().filter((a, i, all) => a !== '-l' && all[i - 1] !== '-l'), '-l', USER, '-p', String(h2.sshPort), h2.address, command])
    const deadline = Date.now() + 15_000
    for (;;) {
      const r = await asMeshop('id -un')
      if (r.status === 0 && r.stdout.trim() === USER) break
      if (Date.now() > deadline) assert.fail(`no ssh login as ${USER} on Host-2: ${r.stdout}${r.stderr}`)
      await sleep(200)
    }
    // The fault itself, as the CLI will meet it: `sudo -n` refuses at once.
    const probe = await asMeshop('sudo -n true')
    assert.equal(probe.status, 1, `sudo -n as ${USER}: ${probe.stdout}${probe.stderr}`)
    // In German where sudo's German messages are installed (Debian's sudo package has them).
    const german = existsSync('/usr/share/locale/de/LC_MESSAGES/sudo.mo')
    assert.match(probe.stderr, german ? /Ein Passwort ist notwendig/ : /a password is required/)

    // --- the inventory: Host-2 over ssh as meshop ----------------------------------------------------------------------
    const inventory = join(lab.dir, 'sudo-inventory.yaml')
    let text = readFileSync(lab.result.inventory, 'utf8')
    const rootAt = `ssh: root@${h2.address}:${h2.sshPort}\n`
    assert.ok(text.includes(rootAt), `Host-2's ssh line in the lab inventory:\n${text}`)
    assert.match(text, /\n {2}port: 22\n/)
    text = text.replace(rootAt, `ssh: ${USER}@${h2.address}:${h2.sshPort}\n`).replace('\n  port: 22\n', '\n  port: 22\n  connectTimeoutSeconds: 3\n')
    writeFileSync(inventory, text)

    await t.test('sudo wants a password: Host-2 fails at once, naming meshop and the fix; the others applied; Host-2 untouched; exit 2 (fixable)', async (t) => {
      const before = await checksums(lab, 'Host-2')
      const r = await apply(lab, inventory)
      assert.equal(r.status, 2, `exit (2: the user fixes it on the host): ${r.stdout}\n${r.stderr}`)
      const st = statuses(r)
      assert.equal(st['Host-1'], 'changed')
      assert.equal(st['Host-3'], 'changed')
      assert.equal(st['Host-2'], 'failed', `connected, but its facts need sudo: ${JSON.stringify(r.json)}`)
      assert.equal(r.json!.changed, 2)
      assert.equal(r.json!.failed, 1)
      const error = r.json!.hosts.find((h) => h.name === 'Host-2')!.error ?? ''
      t.diagnostic(error)
      assert.match(error, /^Host-2: .* needs root, but sudo asks meshop for a password/)
      assert.match(error, /configure NOPASSWD sudo for meshop or connect as root/)
      assert.ok(r.ms < 30_000, `no wait for a password prompt: took ${r.ms} ms`)
      assert.equal(await checksums(lab, 'Host-2'), before, 'nothing changed on Host-2')
    })

    await t.test('NOPASSWD for meshop: the re-run applies Host-2 through sudo (root-owned files), exit 0, the mesh pings', async () => {
      writeFileSync(join(etc, 'sudoers'), sudoers('NOPASSWD: ALL')) // in place: the bind mount keeps the inode
      const probe = await asMeshop('sudo -n id -un')
      assert.equal(probe.stdout.trim(), 'root', `sudo -n as ${USER} with NOPASSWD: ${probe.stderr}`)

      const r = await apply(lab, inventory)
      assert.equal(r.status, 0, `exit: ${r.stdout}\n${r.stderr}`)
      assert.deepEqual(statuses(r), {'Host-1': 'unchanged', 'Host-2': 'changed', 'Host-3': 'unchanged'})
      assert.equal(await sh(lab, 'Host-2', 'stat -c "%U %a" /etc/wireguard/wg0.conf'), 'root 600\n', 'written as root, via sudo')

      const hosts = JSON.parse(readFileSync(join(lab.dir, 'sudo-state', 'state.json'), 'utf8')).hosts
      for (const a of NAMES) {
        const addrs = NAMES.filter((b) => b !== a).flatMap((b) => [hosts[b].ipv4, hosts[b].ipv6]).filter(Boolean)
        const script = 'for a in "$@"; do ping -q -c 2 -i 0.2 -w 5 "$a" >/dev/null || echo "no reply from $a"; done'
        const p = await lab.exec(a, ['sh', '-c', script, 'ping', ...addrs])
        assert.equal(p.stdout + p.stderr, '', `${a} -> tunnel`)
      }
      const again = await apply(lab, inventory)
      assert.equal(again.status, 0, again.stderr)
      assert.deepEqual(statuses(again), Object.fromEntries(NAMES.map((n) => [n, 'unchanged'])), 'a re-run through sudo changes nothing')
    })
  } finally {
    for (const target of mounted.reverse()) await lab.exec('Host-2', ['umount', target]).catch(() => undefined)
    await stopLab(lab)
  }
})
