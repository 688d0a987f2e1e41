// e2e (issue 12, remote half): the real `mesh apply` against lab hosts while a remote write or command goes wrong.
// - broken /etc/hosts markers: exit 2, status failed (not unreachable), the fix in the error;
// - ENOSPC on a bind-mounted /etc/hosts (a file of a small, full tmpfs): refused before any byte changes, restored;
// - the connection cut and the write script SIGKILLed midway through an in-place write: the file is left torn, with a
//   journal; a preview reports it and changes nothing; the next apply restores the old bytes from the backup first;
// - a hung `wg-quick`: stopped at --command-timeout, that host restored, the others applied.
// Needs root + lab packages; skips loudly (fails under CI).
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireBuiltCli, requireLab, startLabWaiting, stopLab} from './harness.js'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

after(async () => {
  await stopLab()
})

interface Run {
  status: number | null
  stdout: string
  stderr: string
  json?: {hosts: {name: string; status: string; error?: string; fixable?: boolean; notes: string[]}[]}
}

function mesh(lab: Lab, home: string, args: string[], timeoutMs = 300_000): {done: Promise<Run>} {
  const child = spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, HOME: home}})
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise<Run>((resolve) =>
    child.on('close', (status) => {
      clearTimeout(timer)
      let json
      try {
        json = stdout.trim().startsWith('{') ? JSON.parse(stdout) : undefined
      } catch {
        // not JSON: the assertions look at stdout itself
      }
      resolve({status, stdout, stderr, json})
    }),
  )
  return {done}
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(100)
  }
}

const statusOf = (r: Run) => {
  assert.ok(r.json?.hosts, `no result (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  return Object.fromEntries(r.json.hosts.map((h) => [h.name, h.status]))
}
const hostOf = (r: Run, name: string) => r.json!.hosts.find((h) => h.name === name)!

test('remote faults e2e: broken markers, ENOSPC and a cut connection during an in-place /etc/hosts write, a hung wg-quick', {timeout: 1_500_000}, async (t) => {
  if (!requireLab(t)) return
  if (!requireBuiltCli(t, 'apply.js')) return
  const lab = await startLabWaiting(3, {}, 120_000)
  const home = join(lab.dir, 'cli-home')
  mkdirSync(home, {recursive: true, mode: 0o700})
  const inventory = join(lab.dir, 'mesh.yaml')
  const state = join(lab.dir, 'state')
  const base = readFileSync(lab.result.inventory, 'utf8')
  assert.match(base, /persistentKeepalive: 25\n/)
  const setKeepalive = (k: number) => writeFileSync(inventory, base.replace('persistentKeepalive: 25', `persistentKeepalive: ${k}`))
  // A loaded CI machine can be very slow: generous limits, except where a test sets its own.
  const apply = (extra: string[] = ['--command-timeout', '600']) => mesh(lab, home, ['apply', '-i', inventory, '--state', state, '--yes', '--json', ...extra]).done
  const sh = async (host: string, script: string, args: string[] = []) => {
    const r = await lab.exec(host, ['sh', '-c', script, 'sh', ...args])
    assert.equal(r.status, 0, `${host}: ${script}\n${r.stdout}${r.stderr}`)
    return r.stdout
  }
  const hostsBytes = async (host: string) => Buffer.from(await sh(host, 'base64 -w0 /etc/hosts'), 'base64').toString('latin1')
  const journalOf = (host: string) => sh(host, 'k=/etc/hosts.mesh-inplace-$(stat -L -c %d-%i /etc/hosts); [ -e "$k.journal" ] && echo "$k" || true')
  const blockSsh = (host: string) =>
    sh(host, 'nft add table inet blk && nft add chain inet blk input "{ type filter hook input priority -10; policy accept; }" && nft add rule inet blk input tcp dport 22 drop')
  const unblockSsh = (host: string) => lab.exec(host, ['nft', 'delete', 'table', 'inet', 'blk']).catch(() => undefined)
  /** Replaces a program on one host (a bind mount in its own mount namespace). */
  const wrap = async (host: string, program: string, body: string) => {
    const real = join(lab.dir, `${program.split('/').pop()}.real`)
    if (!existsSync(real)) copyFileSync(program, real)
    body = body.replaceAll('@REAL@', real)
    const file = join(lab.dir, `wrap-${host}-${program.replace(/\//g, '_')}-${Date.now()}.sh`)
    writeFileSync(file, `#!/bin/sh\n${body}\n`, {mode: 0o755})
    await sh(host, 'mount --bind "$1" "$2"', [file, program])
  }
  const unwrap = (host: string, program: string) => lab.exec(host, ['umount', '-l', program]).catch(() => undefined)

  try {
    setKeepalive(25)
    const first = await apply()
    assert.equal(first.status, 0, first.stderr)

    await t.test('broken markers on one host: exit 2, that host failed with the fix, the others applied', async () => {
      const saved = await hostsBytes('Host-1')
      try {
        await lab.exec('Host-1', ['sh', '-c', 'cat > /etc/hosts'], {input: `${saved.replace(/# END beam-mesh wg0\n/, '')}`})
        setKeepalive(21)
        const r = await apply()
        assert.equal(r.status, 2, r.stderr)
        assert.deepEqual(statusOf(r), {'Host-1': 'failed', 'Host-2': 'changed', 'Host-3': 'changed'})
        assert.match(hostOf(r, 'Host-1').error ?? '', /Host-1:\/etc\/hosts has 1 .* and 0 .*: edit .* by hand so it holds exactly one BEGIN and one END marker/)
        const plan = await mesh(lab, home, ['plan', '-i', inventory, '--state', state]).done
        assert.match(plan.stdout, /Host-1: failed: /)
        assert.doesNotMatch(plan.stdout, /unreachable/)
      } finally {
        await lab.exec('Host-1', ['sh', '-c', 'cat > /etc/hosts'], {input: saved})
      }
      assert.equal((await apply()).status, 0)
    })

    await t.test('ENOSPC on a bind-mounted /etc/hosts: nothing written, the host restored (checked), fixed once there is space', async () => {
      const fs = join(lab.dir, 'small-fs')
      mkdirSync(fs, {recursive: true})
      // Without our block and padded to almost one page: adding the block needs a second page the full tmpfs lacks.
      const current = await hostsBytes('Host-2')
      const outside = current.replace(/# BEGIN beam-mesh wg0\n[\s\S]*?# END beam-mesh wg0\n/, '')
      const padded = outside + '#'.repeat(Math.max(0, 4000 - outside.length)) + '\n'
      try {
        await sh('Host-2', 'mount -t tmpfs -o size=16k tmpfs "$1" && printf %s "$2" > "$1/hosts" && mount --bind "$1/hosts" /etc/hosts && { dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null; true; }', [fs, padded])
        assert.equal(await hostsBytes('Host-2'), padded)
        setKeepalive(22)
        const r = await apply()
        assert.equal(r.status, 1, r.stderr)
        assert.deepEqual(statusOf(r), {'Host-1': 'changed', 'Host-2': 'restored', 'Host-3': 'changed'})
        assert.match(hostOf(r, 'Host-2').error ?? '', /no space left on the device of \/etc\/hosts .*nothing was written/)
        assert.match(hostOf(r, 'Host-2').notes.join('\n'), /checked by sha256/)
        assert.equal(await hostsBytes('Host-2'), padded, '/etc/hosts byte-identical')
        assert.equal(await journalOf('Host-2'), '', 'no journal left')
        await sh('Host-2', 'rm -f "$1/fill"', [fs])
        const fixed = await apply()
        assert.equal(fixed.status, 0, JSON.stringify(fixed.json))
        assert.equal(statusOf(fixed)['Host-2'], 'changed')
        assert.match(await hostsBytes('Host-2'), /# BEGIN beam-mesh wg0\n[\s\S]*# END beam-mesh wg0\n$/)
      } finally {
        await lab.exec('Host-2', ['sh', '-c', 'umount /etc/hosts; umount -l "$1"', 'sh', fs]).catch(() => undefined)
      }
      assert.equal((await apply()).status, 0)
    })

    await t.test('connection cut and the write script killed mid in-place write: torn + journal; a preview reports it; apply repairs', async () => {
      const h = 'Host-3'
      const good = await hostsBytes(h)
      // A stale line in our block: the new file is shorter, so new bytes over old leave a mix until the truncate.
      const stale = good.replace('# BEGIN beam-mesh wg0\n', '# BEGIN beam-mesh wg0\n10.99.0.250\tstale-entry-with-a-long-name\n')
      await lab.exec(h, ['sh', '-c', 'cat > /etc/hosts'], {input: stale})
      const marker = join(lab.dir, `truncate-${Date.now()}`)
      try {
        // The first truncate (the in-place write's last step) waits for the test, then SIGKILLs its write script.
        await wrap(h, '/usr/bin/truncate', `if mkdir '${marker}' 2>/dev/null; then
  i=0; while [ ! -e '${marker}/go' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
  kill -9 $PPID; exit 1
fi
exec '@REAL@' "$@"`)
        setKeepalive(23)
        const run = apply()
        await waitFor('the in-place write to reach its truncate', () => existsSync(marker), 60_000)
        await blockSsh(h)
        await sh(h, "ss -K state established '( sport = :22 )' >/dev/null")
        writeFileSync(join(marker, 'go'), '')
        const r = await run
        assert.equal(r.status, 1, r.stderr)
        assert.deepEqual(statusOf(r), {'Host-1': 'changed', 'Host-2': 'changed', 'Host-3': 'failed'})
        await waitFor('the write script to be killed', async () => (await journalOf(h)) !== '', 20_000)
        const torn = await hostsBytes(h)
        assert.ok(torn !== stale && torn !== good, `torn: neither old nor new:\n${torn}`)
      } finally {
        await unblockSsh(h)
        await unwrap(h, '/usr/bin/truncate')
      }
      const torn = await hostsBytes(h)
      const preview = await mesh(lab, home, ['plan', '-i', inventory, '--state', state]).done
      assert.match(preview.stdout, /\/etc\/hosts was left half-written by an interrupted write: planned from its backup/)
      assert.equal(await hostsBytes(h), torn, 'the preview changed nothing')
      const fixed = await apply()
      assert.equal(fixed.status, 0, JSON.stringify(fixed.json))
      assert.equal(statusOf(fixed)[h], 'changed')
      assert.equal(await hostsBytes(h), good, 'old bytes restored from the backup, then the new ones written')
      assert.equal(await journalOf(h), '', 'journal gone')
    })

    await t.test('a hung wg-quick on one host: stopped at --command-timeout, that host restored, the others applied', async () => {
      const h = 'Host-1'
      // Sorted: a rollback's syncconf may list the same peers in another order.
      const before = await sh(h, 'sha256sum /etc/wireguard/wg0.conf; wg show wg0 persistent-keepalive | sort')
      const marker = join(lab.dir, `wgquick-${Date.now()}`)
      try {
        // Only the first call hangs (the apply's `wg-quick strip`); the rollback's syncconf then works.
        await wrap(h, '/usr/bin/wg-quick', `mkdir '${marker}' 2>/dev/null && { echo $$ > '${marker}/pid'; exec sleep 300; }
exec '@REAL@' "$@"`)
        setKeepalive(24)
        const started = Date.now()
        const r = await apply(['--command-timeout', '20'])
        assert.equal(r.status, 1, r.stderr)
        assert.deepEqual(statusOf(r), {'Host-1': 'restored', 'Host-2': 'changed', 'Host-3': 'changed'})
        assert.match(hostOf(r, h).error ?? '', /did not finish within 20 s and was stopped/)
        assert.ok(Date.now() - started < 290_000, `bounded by the timeout, not the 300 s hang: ${Date.now() - started} ms`)
        assert.equal(await sh(h, 'sha256sum /etc/wireguard/wg0.conf; wg show wg0 persistent-keepalive | sort'), before, 'config and running interface as before')
      } finally {
        await unwrap(h, '/usr/bin/wg-quick')
        // The hung command outlives its closed channel: end it by its pid (the wrapper exec'd into sleep).
        if (existsSync(join(marker, 'pid'))) await lab.exec(h, ['kill', readFileSync(join(marker, 'pid'), 'utf8').trim()]).catch(() => undefined)
      }
      const fixed = await apply()
      assert.equal(fixed.status, 0, JSON.stringify(fixed.json))
    })
  } finally {
    // The SIGKILLed write script left its temp file (and its .err) in /etc, which the lab hosts share: only ours (our addresses).
    await lab.exec('Host-1', ['sh', '-c', 'for f in /etc/hosts.mesh-*; do case $f in *.err) continue ;; esac; grep -qF "$1" "$f" 2>/dev/null && rm -f -- "$f" "$f.err"; done; true', 'sh', `198.18.${lab.net}.`]).catch(() => undefined)
    await stopLab(lab)
  }
})
