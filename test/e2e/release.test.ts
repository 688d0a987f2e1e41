// e2e: a real Elixir release (release-app.ts) on 3 lab hosts, whose rel/env.sh.eex sources the mesh's env.sh.
// In two modes (sname with EPMD; name without EPMD, firewall on), reapplied on one lab: the
// release starts with `bin/demo daemon`, the nodes connect by the names in libcluster.exs (Node.connect/1, as
// libcluster's Epmd strategy does), every release command runs on every host, the node listens only on its
// WireGuard address, and after `stop` nothing of the release listens (an EPMD the node started listens on
// mesh and loopback only, with no names, until `epmd -kill`). Also: the cookie is in the node's argv, and
// /proc mounted with hidepid=invisible hides it from other users. Needs root, erl, elixir/mix.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import {Lab, requireBuiltCli, requireLab, runProcess, startLabWaiting, stopLab} from './harness.js'
import {REL_NAME, assertPrivate, buildRelease, listeners, mixRun, remoteShell, runtimeSnippet} from './release-app.js'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js')
const NAMES = ['Host-1', 'Host-2', 'Host-3']
const ENV_SH = '/etc/beam-mesh/wg0/env.sh'

after(async () => {
  await stopLab()
})

interface Mode {
  label: string
  beam: string[]
  epmd: boolean
  distPort: number
}
/**
 * Two modes cover each naming and each EPMD setting (what env.sh varies on: the node name, and the short-lived
 * node's flags), the firewall on in the second; the mixed pairs add little but CI minutes.
 */
const MODES: Mode[] = [
  {label: 'sname, EPMD', beam: ['naming: sname'], epmd: true, distPort: 9100},
  {label: 'name, EPMD-less, firewall', beam: ['naming: name', 'epmd: false', 'distPortMin: 9200', 'distPortMax: 9200', 'firewall: true'], epmd: false, distPort: 9200},
]

async function cli(lab: Lab, args: string[]) {
  const home = join(lab.dir, 'cli-home')
  mkdirSync(home, {recursive: true, mode: 0o700})
  const r = await runProcess(process.execPath, [BIN, ...args], {timeoutMs: 600_000, env: {HOME: home}})
  assert.equal(r.status, 0, `mesh ${args.join(' ')}: ${r.stdout}${r.stderr}`)
  return r
}

/** A shell script on the host; values as positional parameters ($1…). */
async function sh(lab: Lab, host: string, script: string, args: string[] = [], timeoutMs = 120_000) {
  const r = await lab.exec(host, ['sh', '-c', script, 'sh', ...args], {timeoutMs})
  return {status: r.status, out: r.stdout, err: r.stderr}
}

test('a real Elixir release: every release command on every host, in two modes', {timeout: 3_600_000}, async (t) => {
  if (!requireLab(t)) return
  if (!requireBuiltCli(t, 'apply.js')) return
  const missing = ['erl', 'mix'].filter((p) => !['/usr/bin', '/usr/local/bin'].some((d) => existsSync(join(d, p))))
  if (missing.length) {
    if (process.env.CI) throw new Error(`missing in CI: ${missing.join(', ')} (install erlang-base and elixir)`)
    t.skip(`not installed: ${missing.join(', ')}`)
    return
  }
  const lab = await startLabWaiting(NAMES.length, {})
  try {
    const inventory = join(lab.dir, 'mesh.yaml')
    const base = readFileSync(lab.result.inventory, 'utf8')
    const withBeam = (lines: string[]) => writeFileSync(inventory, base.replace(/^ {2}naming: sname\n/m, lines.map((l) => `  ${l}\n`).join('')))
    withBeam(MODES[0].beam)
    await cli(lab, ['init', '-i', inventory])
    await cli(lab, ['apply', '-i', inventory, '--yes'])

    const appDir = join(lab.dir, 'app')
    const libcluster = (await sh(lab, 'Host-1', 'cat /etc/beam-mesh/wg0/libcluster.exs')).out
    const root = await buildRelease(appDir, ENV_SH, runtimeSnippet(libcluster))
    const tmpOf = (host: string) => join(lab.dir, `reltmp-${host}`)
    /** bin/demo <args> on the host; RELEASE_TMP per host, since the hosts share the release directory. */
    const rel = (host: string, ...args: string[]) =>
      sh(lab, host, 'export RELEASE_TMP="$1"; shift; cd "$1"; shift; exec bin/demo "$@"', [tmpOf(host), root, ...args])

    await t.test('the libcluster snippet in runtime.exs: mix run works where the file is missing', async () => {
      if (existsSync('/etc/beam-mesh/wg0/libcluster.exs')) return t.skip('this machine has the file')
      const r = await mixRun(appDir, 'prod', 'IO.puts(inspect(Application.get_env(:libcluster, :topologies)))')
      assert.match(r.stdout, /^nil$/m)
    })

    const addrs = new Map<string, string[]>()
    for (const h of NAMES) {
      const out = (await sh(lab, h, "ip -o addr show dev wg0 | awk '{print $4}' | cut -d/ -f1")).out
      addrs.set(h, out.split('\n').filter((a) => a && !a.startsWith('fe80')))
    }

    for (const [i, mode] of MODES.entries()) {
      await t.test(mode.label, async () => {
        if (i > 0) {
          withBeam(mode.beam)
          await cli(lab, ['apply', '-i', inventory, '--yes'])
        }
        try {
          await exerciseMode(lab, mode, rel, addrs, root, tmpOf)
        } finally {
          // A failed mode must not leave a node behind for the next one (killed by its own OS pid).
          for (const h of NAMES) {
            const p = await rel(h, 'pid')
            if (p.status === 0 && /^\d+\n?$/.test(p.out)) await sh(lab, h, 'kill -9 "$1"', [p.out.trim()])
          }
        }
      })
    }
  } finally {
    await stopLab(lab)
  }
})

type Rel = (host: string, ...args: string[]) => Promise<{status: number | null; out: string; err: string}>

/** `bin/demo pid` until it answers (bounded); the OS pid of the node. */
async function waitUp(rel: Rel, host: string, what: string): Promise<string> {
  let last = ''
  for (const end = Date.now() + 180_000; Date.now() < end; await new Promise((r) => setTimeout(r, 1000))) {
    const r = await rel(host, 'pid')
    if (r.status === 0 && /^\d+\n?$/.test(r.out)) return r.out.trim()
    last = r.out + r.err
  }
  throw new Error(`${host}: the node (${what}) did not answer \`bin/demo pid\`: ${last.slice(-400)}`)
}

async function waitGone(lab: Lab, host: string, pid: string) {
  for (const end = Date.now() + 120_000; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
    if ((await sh(lab, host, 'kill -0 "$1" 2>/dev/null', [pid])).status !== 0) return
  }
  throw new Error(`${host}: node ${pid} still runs after stop`)
}

async function exerciseMode(lab: Lab, mode: Mode, rel: Rel, addrs: Map<string, string[]>, root: string, tmpOf: (h: string) => string) {
  const nodeOf = (h: string) => (mode.label.startsWith('name') ? `app@${addrs.get(h)![0]}` : `app@${h}`)
  // Every host's chain runs to its end before a failure is reported: none may run on into the next mode.
  const onAll = async <T>(fn: (h: string) => Promise<T>): Promise<T[]> => {
    const rs = await Promise.allSettled(NAMES.map(fn))
    const failed = rs.find((r) => r.status === 'rejected')
    if (failed) throw (failed).reason
    return rs.map((r) => (r as PromiseFulfilledResult<T>).value)
  }
  // After stop: nothing of the release listens; an EPMD the node started (EPMD mode) listens on mesh and
  // loopback only, holds no names, and `epmd -kill` ends it.
  const assertQuiet = async (h: string) => {
    const ls = await listeners(lab, h)
    assert.deepEqual(ls.filter(([, , p]) => p.startsWith('beam')), [], `${h}: no node listens after stop`)
    assert.deepEqual(ls.filter(([, port]) => port === mode.distPort), [], `${h}: nothing on ${mode.distPort}`)
    if (!mode.epmd) assert.deepEqual(ls.filter(([, port]) => port === 4369), [], `${h}: no EPMD at all without EPMD`)
    assertPrivate(h, ls, addrs.get(h)!, 'after stop')
  }

  const pids = new Map(await onAll(async (h) => {
    const r = await rel(h, 'daemon')
    assert.equal(r.status, 0, `${h} daemon: ${r.out}${r.err}`)
    return [h, await waitUp(rel, h, 'daemon')] as const
  }))

  // The running node: distribution and EPMD only on the WireGuard address (and loopback).
  await onAll(async (h) => {
    const ls = await listeners(lab, h)
    assert.ok(ls.some(([a, p, proc]) => proc.startsWith('beam') && p === mode.distPort && addrs.get(h)!.includes(a)), `${h}: node on its mesh address:${mode.distPort} ${JSON.stringify(ls)}`)
    assertPrivate(h, ls, addrs.get(h)!, 'while running')
  })

  // Clustering as libcluster's Epmd strategy does it: Node.connect/1 to each name of libcluster.exs,
  // which runtime.exs loaded (the header's snippet) from /etc/beam-mesh/wg0/libcluster.exs.
  const connect = 'hosts = Application.fetch_env!(:libcluster, :topologies)[:beam_mesh][:config][:hosts]; IO.puts(Enum.map_join(hosts, " ", &"#{&1}=#{Node.connect(&1)}"))'
  await onAll(async (h) => {
    const r = await rel(h, 'rpc', connect)
    assert.equal(r.out.trim(), NAMES.map((n) => `${nodeOf(n)}=true`).join(' '), `${h}: ${r.out}${r.err}`)
  })
  const seen = await rel('Host-1', 'rpc', 'IO.puts(Enum.join(Enum.sort(Node.list()), " "))')
  assert.equal(seen.out.trim(), NAMES.slice(1).map(nodeOf).sort().join(' '), 'Host-1 sees both peers')

  // The cookie is in argv (Elixir's release script: --cookie -> -setcookie); hidepid=invisible hides it.
  const argv = await sh(lab, 'Host-1', `c=$(cat /etc/beam-mesh/wg0/cookie)
tr '\\0' '\\n' < /proc/$1/cmdline | grep -qxF -e "$c" && echo IN_ARGV
setpriv --reuid=nobody --regid=nogroup --clear-groups cat /proc/$1/cmdline | tr '\\0' '\\n' | grep -qxF -e "$c" && echo SEEN_BY_NOBODY
unshare -m sh -c 'mount -t proc -o hidepid=invisible proc /proc && setpriv --reuid=nobody --regid=nogroup --clear-groups cat /proc/$0/cmdline' "$1" >/dev/null 2>&1 || echo HIDDEN`, [pids.get('Host-1')!])
  assert.equal(argv.out, 'IN_ARGV\nSEEN_BY_NOBODY\nHIDDEN\n', argv.err)

  await onAll(async (h) => {
    const pid = pids.get(h)!
    assert.equal((await rel(h, 'rpc', 'IO.puts(node())')).out.trim(), nodeOf(h), `${h} rpc`)
    assert.equal((await rel(h, 'eval', 'IO.puts(:evaluated)')).out.trim(), 'evaluated', `${h} eval`)
    assert.equal((await rel(h, 'version')).out.trim(), `${REL_NAME} 0.1.0`, `${h} version`)
    const remote = await remoteShell(lab, h, root, tmpOf(h))
    assert.match(remote, new RegExp(`remote-on-${nodeOf(h).replace(/\./g, '\\.')}`), `${h} remote: ${remote.slice(-500)}`)
    const restart = await rel(h, 'restart')
    assert.equal(restart.status, 0, `${h} restart: ${restart.out}${restart.err}`)
    await new Promise((r) => setTimeout(r, 2000))
    assert.equal(await waitUp(rel, h, 'restart'), pid, `${h}: restart keeps the OS process`)
    const stop = await rel(h, 'stop')
    assert.equal(stop.status, 0, `${h} stop: ${stop.out}${stop.err}`)
    await waitGone(lab, h, pid)
    await assertQuiet(h)

    // The other ways to start the node, each ended by `stop`.
    for (const how of ['start', 'start_iex', 'daemon_iex']) {
      const launch = how === 'daemon_iex'
        ? 'export RELEASE_TMP="$1"; cd "$2"; exec bin/demo daemon_iex'
        // Foreground commands in their own session; start_iex gets a stdin that stays open (EOF would end it).
        : `export RELEASE_TMP="$1"; cd "$2"; setsid sh -c '${how === 'start_iex' ? 'sleep 600 | exec bin/demo start_iex' : 'exec bin/demo start </dev/null'}' >"$1/${how}.log" 2>&1 & echo $!`
      const l = await sh(lab, h, `mkdir -p "$1"; ${launch}`, [tmpOf(h), root])
      assert.equal(l.status, 0, `${h} ${how}: ${l.out}${l.err}`)
      const p = await waitUp(rel, h, how)
      const s = await rel(h, 'stop')
      assert.equal(s.status, 0, `${h} stop after ${how}: ${s.out}${s.err}`)
      await waitGone(lab, h, p)
      if (how !== 'daemon_iex' && /^\d+$/.test(l.out.trim())) await sh(lab, h, 'kill -- -"$1" 2>/dev/null; true', [l.out.trim()])
    }
    await assertQuiet(h)
    if (mode.epmd) {
      const names = await sh(lab, h, 'epmd -names')
      assert.doesNotMatch(names.out, /^name /m, `${h}: no node left registered`)
      assert.equal((await sh(lab, h, 'epmd -kill')).status, 0)
      for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
        if (!(await listeners(lab, h)).some(([, port]) => port === 4369)) break
      }
      assert.deepEqual((await listeners(lab, h)).filter(([, port]) => port === 4369), [], `${h}: EPMD gone after epmd -kill`)
    }
  })
}
