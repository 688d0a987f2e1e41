// e2e (issue 8): faults in the lab. The real `mesh apply` against real lab hosts while things go wrong: a host
// unreachable before the apply and one lost in the middle of it, a changed SSH host key, `wg-quick up` failing on a
// fresh host, Ctrl-C (once and twice), two applies on one state, and an /etc/hosts full of odd bytes around our
// block. After every fault: the other hosts are applied, nothing is half-written, no temp file is left, and a
// re-run repairs everything. Needs root + lab packages; skips loudly (fails under CI). Own lab: bmf, 198.18.50.0/24.
import assert from 'node:assert/strict'
import {ChildProcess, spawn} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireBuiltCli, requireLab, runProcess, startLabWaiting, stopLab} from './harness.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
/** The lab's own /24, as a prefix of its addresses (the temp files of this lab carry it). */
const labNetPrefix = (lab: Lab) => `198.18.${lab.net}.`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

after(async () => {
  await stopLab() // whatever a failed test left running
})

interface HostResult {
  name: string
  status: string
  iface: string
  error?: string
  notes?: string[]
}
interface ApplyJson {
  hosts: HostResult[]
  changed: number
  failed: number
  error?: {kind: string; message: string}
  warnings?: string[]
}

interface Ctx {
  lab: Lab
  /** The inventory the CLI reads (rewritten per case), beside the lab's key and known_hosts. */
  inventory: string
  state: string
  home: string
}

interface Run {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  json?: ApplyJson
  ms: number
}

/** The real CLI as a child we can watch and signal. HOME is empty so the operator's ~/.ssh cannot leak in. */
function spawnMesh(c: Ctx, args: string[], timeoutMs = 90_000) {
  const started = Date.now()
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, HOME: c.home}})
  let stdout = ''
  let stderr = ''
  const waiters: {re: RegExp; resolve: () => void}[] = []
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    for (const w of waiters.filter((x) => x.re.test(stderr))) w.resolve()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise<Run>((resolve) => {
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      let json: ApplyJson | undefined
      try {
        json = stdout.trim().startsWith('{') ? JSON.parse(stdout) : undefined
      } catch {
        json = undefined
      }
      resolve({status, signal, stdout, stderr, json, ms: Date.now() - started})
    })
  })
  /** Resolves when stderr matches (bounded); rejects with what stderr said so far. */
  const stderrMatches = (re: RegExp, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      if (re.test(stderr)) return resolve()
      const t = setTimeout(() => reject(new Error(`no ${re} on stderr within ${ms} ms:\n${stderr}`)), ms)
      waiters.push({re, resolve: () => (clearTimeout(t), resolve())})
      void done.then(() => reject(new Error(`exited before ${re} appeared on stderr:\n${stderr}`)))
    })
  return {child, done, stderrMatches}
}

const apply = (c: Ctx, extra: string[] = []) => spawnMesh(c, ['apply', '-i', c.inventory, '--state', c.state, '--yes', '--json', ...extra]).done

function statuses(r: Run): Record<string, string> {
  assert.ok(r.json?.hosts, `apply printed no result (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return Object.fromEntries(r.json.hosts.map((h) => [h.name, h.status]))
}

/** Applies and expects exit 0 and exactly these statuses. */
async function applyExpect(c: Ctx, want: Record<string, string | string[]>, extra: string[] = []): Promise<Run> {
  const r = await apply(c, extra)
  assert.equal(r.status, 0, `apply exit: ${JSON.stringify(r.json)}\n${r.stderr}`)
  const got = statuses(r)
  for (const [name, s] of Object.entries(want)) {
    assert.ok((Array.isArray(s) ? s : [s]).includes(got[name]), `${name}: ${got[name]}, want ${String(s)}: ${JSON.stringify(r.json)}`)
  }
  return r
}

/** The lab inventory with a given keepalive (a change on every host), a short connect timeout, 3 or 4 hosts. */
function writeInventory(c: Ctx, keepalive: number, hosts: 3 | 4 = 3): void {
  let text = readFileSync(c.lab.result.inventory, 'utf8')
  assert.match(text, /persistentKeepalive: 25\n/)
  assert.match(text, /\n {2}port: 22\n/)
  text = text.replace('persistentKeepalive: 25', `persistentKeepalive: ${keepalive}`).replace('\n  port: 22\n', '\n  port: 22\n  connectTimeoutSeconds: 3\n')
  if (hosts === 3) text = text.slice(0, text.lastIndexOf('  - name: '))
  writeFileSync(c.inventory, text)
}

async function sh(c: Ctx, host: string, script: string, args: string[] = [], timeoutMs = 30_000): Promise<string> {
  const r = await c.lab.exec(host, ['sh', '-c', script, 'sh', ...args], {timeoutMs})
  assert.equal(r.status, 0, `${host}: ${script}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

const NAMES3 = ['Host-1', 'Host-2', 'Host-3']
const NAMES4 = [...NAMES3, 'Host-4']

/** Every managed file on a host -> sha256 (a missing file is simply absent from the map). */
async function checksums(c: Ctx, host: string): Promise<Record<string, string>> {
  const out = await sh(c, host, 'for f in /etc/hosts /etc/wireguard/wg0.conf /etc/beam-mesh/wg0/*; do [ -f "$f" ] && echo "$f $(sha256sum < "$f" | cut -c1-64)"; done; true')
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]))
}
const allChecksums = async (c: Ctx, names: string[]) => Object.fromEntries(await Promise.all(names.map(async (n) => [n, await checksums(c, n)] as const)))

/**
 * Temp files a write or a syncconf may leave: beside the target in the host's own /etc/wireguard and /etc/beam-mesh,
 * and /etc/hosts.mesh-* in /etc, which every lab host (and every other lab on this machine) shares: those count only
 * when they carry this lab's addresses, or are the .err companion of one that does.
 */
async function tempFiles(c: Ctx, host: string): Promise<string[]> {
  const own = await sh(c, host, "find /etc/wireguard /etc/beam-mesh -name '*.mesh-*' -o -name '.mesh-strip-*'; true")
  const shared = await sh(c, host, `for f in /etc/hosts.mesh-*; do [ -e "$f" ] || continue; b=\${f%.err}; grep -qF "$1" "$b" 2>/dev/null && echo "$f"; done; true`, [labNetPrefix(c.lab)])
  return [...own.trim().split('\n'), ...shared.trim().split('\n')].filter(Boolean)
}
/** The host-side write of an interrupted run goes on alone: it has ended once its temp file is renamed or removed. */
async function waitForWriteToEnd(c: Ctx, host: string) {
  await waitFor(`${host}'s interrupted write to end (its temp file gone)`, async () => (await tempFiles(c, host)).length === 0, HOST_EVENT_MS)
}
async function assertNoTempFiles(c: Ctx, names: string[]) {
  for (const n of names) assert.deepEqual(await tempFiles(c, n), [], `${n}: temp files left behind`)
}

const stateJson = (c: Ctx) => JSON.parse(readFileSync(join(c.state, 'state.json'), 'utf8'))

/** `applied`: the apply just before, whose notes and warnings a failure shows beside the host's `wg show`. */
async function assertPingsAll(c: Ctx, names: string[], applied?: Run) {
  const hosts = stateJson(c).hosts
  for (const a of names) {
    const addrs = names.filter((b) => b !== a).flatMap((b) => [hosts[b].ipv4, hosts[b].ipv6]).filter(Boolean)
    const script = 'for a in "$@"; do ping -q -c 2 -i 0.2 -w 5 "$a" >/dev/null || echo "no reply from $a"; done'
    const r = await c.lab.exec(a, ['sh', '-c', script, 'ping', ...addrs])
    if (r.stdout + r.stderr === '') continue
    // `wg show` hides the private key; the apply's notes say whether a crossed pair was started again.
    const seen = (await c.lab.exec(a, ['wg', 'show', 'wg0'])).stdout
    const said = applied?.json ? JSON.stringify({warnings: applied.json.warnings, notes: applied.json.hosts?.map((h) => [h.name, h.notes])}) : ''
    assert.equal(r.stdout + r.stderr, '', `${a} -> tunnel\n${seen}\n${said}`)
  }
}

// Faults injected into one host's own namespaces (each undone by the matching "un" function, also on failure).
const blockSsh = (c: Ctx, host: string) =>
  sh(c, host, 'nft add table inet blk && nft add chain inet blk input "{ type filter hook input priority -10; policy accept; }" && nft add rule inet blk input tcp dport 22 drop')
const unblockSsh = (c: Ctx, host: string) => c.lab.exec(host, ['nft', 'delete', 'table', 'inet', 'blk']).catch(() => undefined)

/**
 * A deterministic pause in the middle of an apply: on one host only (a bind mount in its private mount namespace),
 * the first `dd` into a file write's temp file (the batch's short path: `dd ... of=FILE.mesh-...`, after the temp
 * file is made and before its bytes go in) creates `marker`, sleeps, then writes `marker/done`. Every other dd
 * passes straight through.
 */
async function slowFirstWrite(c: Ctx, host: string, seconds: number): Promise<{marker: string; done: string}> {
  const real = join(c.lab.dir, 'dd.real')
  if (!existsSync(real)) copyFileSync('/usr/bin/dd', real)
  const marker = join(c.lab.dir, `slow-${host}-${Date.now()}`)
  const wrapper = `${marker}.sh`
  const script = [
    '#!/bin/sh',
    `case "$*" in *of=*.mesh-*) ;; *) exec '${real}' "$@" ;; esac`,
    `if mkdir '${marker}' 2>/dev/null; then`,
    `  sleep ${seconds}`,
    `  '${real}' "$@" || exit $?`,
    `  touch '${marker}/done'`,
    '  exit 0',
    'fi',
    `exec '${real}' "$@"`,
  ]
  writeFileSync(wrapper, `${script.join('\n')}\n`, {mode: 0o755})
  await sh(c, host, 'mount --bind "$1" /usr/bin/dd', [wrapper])
  return {marker, done: join(marker, 'done')}
}
const unslow = (c: Ctx, host: string) => c.lab.exec(host, ['umount', '-l', '/usr/bin/dd']).catch(() => undefined)

/** Bound for waiting on a host-side event: generous, since a loaded machine (load 8-14 seen) slows every step; the wait ends at the event. */
const HOST_EVENT_MS = 60_000

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** Files outside the lab dir that only a failed run of this suite can leave: our temp files in the shared /etc. */
async function removeOurSharedTempFiles(c: Ctx) {
  await c.lab.exec('Host-1', ['sh', '-c', 'for f in /etc/hosts.mesh-*; do case $f in *.err) continue ;; esac; grep -qF "$1" "$f" 2>/dev/null && rm -f -- "$f" "$f.err"; done; true', 'sh', labNetPrefix(c.lab)]).catch(() => undefined)
}

test('faults e2e: unreachable hosts, changed host key, failing wg-quick, Ctrl-C, concurrent applies, odd /etc/hosts', {timeout: 300_000}, async (t) => {
  if (!requireLab(t)) return
  if (!requireBuiltCli(t, 'apply.js')) return
  const lab = await startLabWaiting(4, {}, 120_000)
  const c: Ctx = {lab, inventory: join(lab.dir, 'mesh.yaml'), state: join(lab.dir, 'state'), home: join(lab.dir, 'cli-home')}
  mkdirSync(c.home, {recursive: true, mode: 0o700})
  let keepalive = 25
  /** Every case starts from a healthy applied mesh: undo any fault a failed case left, then converge. */
  const healthy = async (hosts: 3 | 4 = 3) => {
    for (const h of lab.hosts) {
      await unblockSsh(c, h.name)
      await unslow(c, h.name)
    }
    writeInventory(c, keepalive, hosts)
    const r = await apply(c)
    assert.equal(r.status, 0, `repair apply: ${JSON.stringify(r.json)}\n${r.stderr}`)
  }

  try {
    await t.test('setup: 3 of the 4 hosts applied (Host-4 stays fresh for the wg-quick case)', async () => {
      writeInventory(c, keepalive)
      const applied = await applyExpect(c, Object.fromEntries(NAMES3.map((n) => [n, 'changed'])))
      await assertPingsAll(c, NAMES3, applied)
    })

    await t.test('1. a host unreachable before apply: reported, the others changed, exit 1; a re-run after unblocking fixes it', async () => {
      await healthy()
      try {
        await blockSsh(c, 'Host-2')
        writeInventory(c, (keepalive = 21))
        const r = await apply(c)
        assert.equal(r.status, 1, r.stderr)
        assert.deepEqual(statuses(r), {'Host-1': 'changed', 'Host-2': 'unreachable', 'Host-3': 'changed'})
        assert.equal(r.json!.changed, 2)
        assert.equal(r.json!.failed, 1)
        assert.match(r.json!.hosts[1].error ?? '', /Host-2.*(no SSH handshake|cannot reach|timed out)/s)
        assert.ok(r.ms < 20_000, `bounded by ssh.connectTimeoutSeconds (3 s): took ${r.ms} ms`)
      } finally {
        await unblockSsh(c, 'Host-2')
      }
      await applyExpect(c, {'Host-1': 'unchanged', 'Host-2': 'changed', 'Host-3': 'unchanged'})
      await assertPingsAll(c, NAMES3)
    })

    await t.test('2. a host lost in the middle of its writes: failed/restored, the others changed; a re-run converges, no temp files', async (t2) => {
      await healthy()
      const h2 = 'Host-2'
      try {
        const slow = await slowFirstWrite(c, h2, 3)
        writeInventory(c, (keepalive = 22))
        const run = spawnMesh(c, ['apply', '-i', c.inventory, '--state', c.state, '--yes', '--json'])
        await waitFor(`${h2}'s first write to start`, () => existsSync(slow.marker), 30_000)
        // New connections dropped, the established one killed (an RST reaches the CLI at once).
        await blockSsh(c, h2)
        await sh(c, h2, "ss -K state established '( sport = :22 )' >/dev/null")
        const r = await run.done
        assert.equal(r.status, 1, r.stderr)
        const st = statuses(r)
        assert.ok(['failed', 'restored'].includes(st[h2]), `${h2}: ${JSON.stringify(r.json)}`)
        assert.equal(st['Host-1'], 'changed')
        assert.equal(st['Host-3'], 'changed')
        assert.match(r.json!.hosts[1].error ?? '', /connection|closed|reset|Not connected|No response/i)
        assert.ok(r.ms < 30_000, `bounded: took ${r.ms} ms`)
        // The host-side script outlives the connection; let it finish before looking at the files.
        await waitFor(`${h2}'s interrupted write script to go on`, () => existsSync(slow.done), HOST_EVENT_MS)
        await waitForWriteToEnd(c, h2)
      } finally {
        await unblockSsh(c, h2)
        await unslow(c, h2)
      }
      await applyExpect(c, {'Host-1': 'unchanged', 'Host-2': ['changed', 'unchanged'], 'Host-3': 'unchanged'})
      await assertNoTempFiles(c, NAMES3)
      // The lost host's write finished on its own (the whole file had arrived) but its `wg syncconf` never ran: the file
      // now matches, and only the running interface still has the old keepalive.
      await t2.test('the re-run also brings the running interface to the new keepalive', async () => {
        const running = await sh(c, h2, 'wg show wg0 persistent-keepalive')
        assert.ok(running.trim().split('\n').every((l) => l.endsWith(`\t${keepalive}`)), `${h2} runs:\n${running}`)
      })
      await assertPingsAll(c, NAMES3)
    })

    await t.test('3. a changed SSH host key: refused as a possible man-in-the-middle, nothing changed there, known_hosts untouched', async () => {
      await healthy()
      const h3 = lab.host('Host-3')
      const keyFile = /^HostKey (.+)$/m.exec(readFileSync(h3.sshdConfig, 'utf8'))?.[1]
      assert.ok(keyFile, 'host key path in the lab sshd_config')
      const keyscan = async () => (await runProcess('ssh-keyscan', ['-t', 'ed25519', '-p', String(h3.sshPort), h3.address], {timeoutMs: 5000})).stdout.split(/\s+/)[2] ?? ''
      const pubOf = (f: string) => readFileSync(`${f}.pub`, 'utf8').split(/\s+/)[1]
      const backup = join(lab.dir, 'host3-key-orig')
      copyFileSync(keyFile, backup)
      copyFileSync(`${keyFile}.pub`, `${backup}.pub`)
      // SIGHUP makes sshd re-exec itself: same pid, so the host keeps its namespaces and mounts.
      const restartSshd = async (wantPub: string) => {
        process.kill(h3.pid!, 'SIGHUP')
        await waitFor('Host-3 sshd to serve the expected key', async () => (await keyscan()) === wantPub, 15_000)
      }
      const knownHosts = readFileSync(lab.result.knownHostsFile)
      const before = await checksums(c, 'Host-3')
      try {
        rmSync(keyFile, {force: true})
        rmSync(`${keyFile}.pub`, {force: true})
        const gen = await runProcess('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'root@Host-3-new', '-f', keyFile])
        assert.equal(gen.status, 0, gen.stderr)
        assert.notEqual(pubOf(keyFile), pubOf(backup))
        await restartSshd(pubOf(keyFile))

        writeInventory(c, (keepalive = 23))
        const r = await apply(c)
        assert.equal(r.status, 1, r.stderr)
        assert.deepEqual(statuses(r), {'Host-1': 'changed', 'Host-2': 'changed', 'Host-3': 'unreachable'})
        assert.match(r.json!.hosts[2].error ?? '', /man-in-the-middle/)
        assert.deepEqual(readFileSync(lab.result.knownHostsFile), knownHosts, 'known_hosts unchanged')
        assert.ok(!existsSync(join(c.home, '.ssh', 'known_hosts')), 'no key recorded in ~/.ssh either')
        assert.deepEqual(await checksums(c, 'Host-3'), before, 'nothing changed on Host-3')
      } finally {
        copyFileSync(backup, keyFile)
        copyFileSync(`${backup}.pub`, `${keyFile}.pub`)
        await restartSshd(pubOf(backup))
      }
      await applyExpect(c, {'Host-1': 'unchanged', 'Host-2': 'unchanged', 'Host-3': 'changed'})
    })

    await t.test('5a. Ctrl-C during apply: exits non-zero, the host in flight finishes, no new one starts, no temp files', async () => {
      await healthy()
      const old = await allChecksums(c, NAMES3)
      let mid: Record<string, Record<string, string>>
      try {
        await slowFirstWrite(c, 'Host-1', 2)
        writeInventory(c, (keepalive = 24))
        // --concurrency 1: one host in flight at a time, so the interrupt has hosts left to skip. No --json: progress.
        const run = spawnMesh(c, ['apply', '-i', c.inventory, '--state', c.state, '--yes', '--concurrency', '1'])
        await run.stderrMatches(/\[Host-1\s*\] writing \/etc\//)
        run.child.kill('SIGINT')
        const r = await run.done
        assert.ok(r.ms < 30_000, `bounded: ${r.ms} ms`)
        assert.notEqual(r.status, 0, `non-zero exit after Ctrl-C:\n${r.stdout}\n${r.stderr}`)
        assert.match(r.stderr, /interrupted: finishing hosts in progress/)
        assert.ok(!existsSync(join(c.state, 'apply.lock')), 'lock released')
        mid = await allChecksums(c, NAMES3)
        await assertNoTempFiles(c, NAMES3)
      } finally {
        await unslow(c, 'Host-1')
      }
      const r = await applyExpect(c, {'Host-1': 'unchanged', 'Host-2': 'changed', 'Host-3': 'changed'})
      assert.equal(r.json!.changed, 2)
      const now = await allChecksums(c, NAMES3)
      assert.deepEqual(mid['Host-1'], now['Host-1'], 'Host-1 (in flight) finished: entirely new')
      assert.deepEqual(mid['Host-2'], old['Host-2'], 'Host-2 (not started) entirely old')
      assert.deepEqual(mid['Host-3'], old['Host-3'], 'Host-3 (not started) entirely old')
      await applyExpect(c, Object.fromEntries(NAMES3.map((n) => [n, 'unchanged'])))
      await assertNoTempFiles(c, NAMES3)
    })

    await t.test('5b. Ctrl-C twice: quits at once (130), every file entirely old or new, no temp files, no lock left', async () => {
      await healthy()
      const old = await allChecksums(c, NAMES3)
      let mid: Record<string, Record<string, string>>
      try {
        // Long enough that "at once" is an order of events: the CLI is gone before the in-flight write goes on.
        const slow = await slowFirstWrite(c, 'Host-1', 8)
        writeInventory(c, (keepalive = 27))
        const run = spawnMesh(c, ['apply', '-i', c.inventory, '--state', c.state, '--yes', '--concurrency', '1'])
        await run.stderrMatches(/\[Host-1\s*\] writing \/etc\//)
        // The line is printed as the host's one batch of writes is sent: interrupt once the write is on the host.
        await waitFor("Host-1's first write to start", () => existsSync(slow.marker), HOST_EVENT_MS)
        run.child.kill('SIGINT')
        await run.stderrMatches(/interrupted/)
        run.child.kill('SIGINT')
        const r = await run.done
        assert.equal(r.status, 130, `exit after a second Ctrl-C:\n${r.stderr}`)
        assert.ok(!existsSync(slow.done), `at once: exited (after ${r.ms} ms) before Host-1's in-flight write went on`)
        assert.ok(!existsSync(join(c.state, 'apply.lock')), 'lock released on the way out')
        // The host-side write outlives the CLI: wait for it before looking.
        await waitFor("Host-1's write script to go on", () => existsSync(slow.done), HOST_EVENT_MS)
        await waitForWriteToEnd(c, 'Host-1')
        mid = await allChecksums(c, NAMES3)
        await assertNoTempFiles(c, NAMES3)
      } finally {
        await unslow(c, 'Host-1')
      }
      await applyExpect(c, Object.fromEntries(NAMES3.map((n) => [n, ['changed', 'unchanged']])))
      const now = await allChecksums(c, NAMES3)
      for (const n of NAMES3) {
        for (const path of new Set([...Object.keys(old[n]), ...Object.keys(now[n])])) {
          const m = mid[n][path]
          assert.ok(m === old[n][path] || m === now[n][path], `${n} ${path}: neither old nor new`)
        }
      }
      await applyExpect(c, Object.fromEntries(NAMES3.map((n) => [n, 'unchanged'])))
      await assertNoTempFiles(c, NAMES3)
    })

    await t.test('6. two applies at once on one state: one refused by the lock (exit 2), one succeeds, no lock left', async () => {
      await healthy()
      try {
        await slowFirstWrite(c, 'Host-1', 2) // the winner holds the lock for at least 2 s
        writeInventory(c, (keepalive = 26))
        const [a, b] = await Promise.all([apply(c), apply(c)])
        const [ok, refused] = a.status === 0 ? [a, b] : [b, a]
        assert.deepEqual([ok.status, refused.status], [0, 2], `exits ${a.status}, ${b.status}:\n${a.stdout}${a.stderr}\n${b.stdout}${b.stderr}`)
        assert.deepEqual(statuses(ok), Object.fromEntries(NAMES3.map((n) => [n, 'changed'])))
        assert.equal(refused.json?.error?.kind, 'UserError')
        assert.match(refused.json?.error?.message ?? '', /another mesh apply holds the lock on .* \(pid \d+ on /)
        assert.ok(!existsSync(join(c.state, 'apply.lock')), 'no lock file left')
      } finally {
        await unslow(c, 'Host-1')
      }
    })

    await t.test('7. /etc/hosts with CRLF lines, no final newline and lines after our block: every byte outside the block kept', async () => {
      await healthy()
      const current = await sh(c, 'Host-1', 'cat /etc/hosts')
      const m = /# BEGIN beam-mesh wg0\n[\s\S]*?# END beam-mesh wg0\n/.exec(current)
      assert.ok(m, `our block in /etc/hosts:\n${current}`)
      const block = m[0]
      // A stale block (an extra line inside), so the apply has to rewrite it.
      const stale = block.replace('# BEGIN beam-mesh wg0\n', '# BEGIN beam-mesh wg0\n10.99.0.250\tstale-entry\n')
      const before = '127.0.0.1\tlocalhost\r\n::1\tlocalhost ip6-localhost\r\n# caf\u00e9 user entries, CRLF\r\n198.18.50.200 printer printer.lan\r\n'
      const afterBlock = '# after the block\r\n192.0.2.7\tafter-one\n\t  203.0.113.9   odd-spacing  \r\n# no final newline: 192.0.2.8 last'
      const w = await lab.exec('Host-1', ['sh', '-c', 'cat > /etc/hosts'], {input: before + stale + afterBlock})
      assert.equal(w.status, 0, w.stderr)
      assert.equal(await sh(c, 'Host-1', 'cat /etc/hosts'), before + stale + afterBlock)

      await applyExpect(c, {'Host-1': 'changed', 'Host-2': 'unchanged', 'Host-3': 'unchanged'})
      const bytes = Buffer.from(await sh(c, 'Host-1', 'base64 -w0 /etc/hosts'), 'base64')
      assert.deepEqual(bytes, Buffer.from(before + block + afterBlock, 'utf8'), 'only the block changed, byte for byte')
      await applyExpect(c, Object.fromEntries(NAMES3.map((n) => [n, 'unchanged'])))
      // Put the lab's own layout back for the cases after this one.
      await lab.exec('Host-1', ['sh', '-c', 'cat > /etc/hosts'], {input: current})
    })

    await t.test('4. wg-quick up failing on a fresh host: restored exactly, the others applied and pinging; fixed by a re-run', async () => {
      await healthy()
      const h4 = 'Host-4'
      const hostsBefore = await sh(c, h4, 'base64 -w0 /etc/hosts')
      assert.equal(await sh(c, h4, 'ls -A /etc/wireguard /etc/beam-mesh'), '/etc/beam-mesh:\n\n/etc/wireguard:\n', 'Host-4 never applied')
      try {
        // A link called wg0 that is not WireGuard (no dummy module in some kernels: a bridge does as well).
        await sh(c, h4, 'ip link add wg0 type dummy 2>/dev/null || ip link add wg0 type bridge')
        writeInventory(c, keepalive, 4)
        const r = await apply(c)
        assert.equal(r.status, 1, r.stderr)
        assert.deepEqual(statuses(r), {'Host-1': 'changed', 'Host-2': 'changed', 'Host-3': 'changed', 'Host-4': 'restored'})
        assert.match(r.json!.hosts[3].error ?? '', /wg-quick/)
        assert.equal(await sh(c, h4, 'base64 -w0 /etc/hosts'), hostsBefore, '/etc/hosts byte-identical')
        assert.equal(await sh(c, h4, 'ls -A /etc/wireguard /etc/beam-mesh'), '/etc/beam-mesh:\n\n/etc/wireguard:\n', 'wg0.conf and BEAM files gone again')
        assert.match(await sh(c, h4, 'ip -d -o link show wg0'), /dummy|bridge/, "the operator's own wg0 left alone")
        await assertPingsAll(c, NAMES3)
      } finally {
        await c.lab.exec(h4, ['ip', 'link', 'del', 'wg0']).catch(() => undefined)
      }
      // Failing AFTER a successful `wg-quick up` (the peer check cannot read wg0): the rollback must take wg0 down
      // again, which needs the config it came up with, so before that file is removed.
      try {
        const real = join(lab.dir, 'wg.real')
        copyFileSync('/usr/bin/wg', real)
        const wrapper = join(lab.dir, 'wg-no-peers.sh')
        writeFileSync(wrapper, `#!/bin/sh\n[ "$1 $3" = "show peers" ] && { echo "wg show: refused by the fault test" >&2; exit 1; }\nexec '${real}' "$@"\n`, {mode: 0o755})
        await sh(c, h4, 'mount --bind "$1" /usr/bin/wg', [wrapper])
        const r = await apply(c)
        assert.equal(r.status, 1, r.stderr)
        assert.deepEqual(statuses(r), {'Host-1': 'unchanged', 'Host-2': 'unchanged', 'Host-3': 'unchanged', 'Host-4': 'restored'})
        assert.match(r.json!.hosts[3].error ?? '', /not running after apply/)
        const link = await c.lab.exec(h4, ['ip', 'link', 'show', 'wg0'])
        assert.notEqual(link.status, 0, `wg0 taken down again: ${link.stdout}`)
        assert.equal(await sh(c, h4, 'base64 -w0 /etc/hosts'), hostsBefore, '/etc/hosts byte-identical')
        assert.equal(await sh(c, h4, 'ls -A /etc/wireguard /etc/beam-mesh'), '/etc/beam-mesh:\n\n/etc/wireguard:\n', 'wg0.conf and BEAM files gone again')
      } finally {
        await c.lab.exec(h4, ['umount', '-l', '/usr/bin/wg']).catch(() => undefined)
      }
      await applyExpect(c, {'Host-1': 'unchanged', 'Host-2': 'unchanged', 'Host-3': 'unchanged', 'Host-4': 'changed'})
      await assertPingsAll(c, NAMES4)
      await assertNoTempFiles(c, NAMES4)
    })
  } finally {
    await removeOurSharedTempFiles(c)
    await stopLab(lab)
  }
})
