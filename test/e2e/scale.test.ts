// e2e (issue 19): a 32-host lab (SCALE_E2E_HOSTS to change it) applied and doctored through the real CLI, with the
// lab's routed network keeping the kernel's neighbour table small; then a no-op apply during which one host's sshd
// is frozen (SIGSTOP) and another host's link is cut, each right after its last command: the CLI must still exit
// promptly, with exit code 0 and a note for each of the two hosts. Needs root + packages; skips loudly (fails under
// CI) otherwise. dist/ must be built. One lab for every check (lab up is the costly part).
import assert from 'node:assert/strict'
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {test} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {DoctorReport} from '../../src/core/doctor-report.js'
import {routerName} from '../../src/lab/index.js'
import {Lab, requireBuiltCli, requireLab, startLabWaiting, stopLab} from './harness.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const N = Number(process.env.SCALE_E2E_HOSTS ?? 32)

interface Run {
  status: number | null
  stdout: string
  stderr: string
  ms: number
  /** ms since start at which each watched stdout pattern first matched. */
  seen: Map<RegExp, number>
}

/** The CLI as a child process; onStderr sees progress lines as they come. Killed after timeoutMs. */
function mesh(args: string[], opts: {timeoutMs?: number; onStderr?: (text: string) => void; watch?: RegExp[]} = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}, timeout: opts.timeoutMs ?? 600_000})
    const seen = new Map<RegExp, number>()
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      for (const re of opts.watch ?? []) if (!seen.has(re) && re.test(stdout)) seen.set(re, Date.now() - t0)
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
      opts.onStderr?.(stderr)
    })
    child.on('error', reject)
    child.on('close', (status) => resolve({status, stdout, stderr, ms: Date.now() - t0, seen}))
  })
}

const json = (r: Run) => {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`no JSON on stdout (exit ${r.status}): ${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 2000)}`)
  }
}

const overflowCount = () => {
  const r = spawnSync('dmesg', [], {encoding: 'utf8'})
  return r.status === 0 ? (r.stdout.match(/neighbor table overflow/g) ?? []).length : null
}

const neighbours = (ns: string) =>
  execFileSync('ip', ['-n', ns, '-4', 'neigh', 'show'], {encoding: 'utf8'}).split('\n').filter((l) => l.trim() && !/FAILED|INCOMPLETE/.test(l)).length

/** Pids of the processes named `comm` in the host's network namespace (a namespace sees every process: filter). */
const nsPids = (ns: string, comm: string) =>
  execFileSync('ip', ['netns', 'pids', ns], {encoding: 'utf8'}).split('\n').filter(Boolean).map(Number).filter((pid) => {
    try {
      return execFileSync('cat', [`/proc/${pid}/comm`], {encoding: 'utf8'}).trim() === comm
    } catch {
      return false
    }
  })

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(Array.from({length: Math.min(limit, queue.length)}, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item)
  }))
}

/** `erl -sname app` as in the apply docs (env.sh, the cookie copied into a private HOME, vm.args); waits for EPMD. */
async function startNode(lab: Lab, host: string): Promise<void> {
  const start = await lab.exec(host, ['sh', '-c', '. /etc/beam-mesh/wg0/env.sh; h=$(mktemp -d); cp /etc/beam-mesh/wg0/cookie $h/.erlang.cookie; ' +
    'chmod 400 $h/.erlang.cookie; HOME=$h erl -sname app -noshell -detached -args_file /etc/beam-mesh/wg0/vm.args'], {timeoutMs: 60_000})
  assert.equal(start.status, 0, `erl on ${host}: ${start.stderr}`)
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (/^name app at port \d+/m.test((await lab.exec(host, ['epmd', '-names'])).stdout)) return
    await new Promise((r) => setTimeout(r, 500))
  }
  assert.fail(`node app did not register with epmd on ${host} within 60 s`)
}

test(`scale: ${N} hosts applied and doctored; a host frozen or cut after its last command is a note, not a hang`, {timeout: 1_500_000}, async (t) => {
  if (!requireLab(t) || !requireBuiltCli(t, 'apply.js')) return
  const overflowsBefore = overflowCount()
  const upAt = Date.now()
  const lab = await startLabWaiting(N, {}, 300_000)
  const times: string[] = [`lab up ${((Date.now() - upAt) / 1000).toFixed(1)} s`]
  const common = ['-i', lab.result.inventory, '--state', join(lab.dir, 'state')]
  const stopped: number[] = []
  const router = routerName(lab.prefix)
  const cut = lab.host('Host-1')
  try {
    await t.test(`cold apply of ${N} hosts`, async () => {
      const r = await mesh(['apply', ...common, '--yes', '--json'])
      times.push(`cold apply ${(r.ms / 1000).toFixed(1)} s`)
      assert.equal(r.status, 0, r.stderr.slice(0, 3000))
      const res = json(r)
      assert.equal(res.changed, N)
      assert.deepEqual(res.hosts.filter((h: {status: string}) => h.status !== 'changed'), [])
    })

    await t.test('the routed lab keeps one neighbour per host, the router one per host, and the kernel table never overflows', () => {
      for (const h of lab.hosts) assert.ok(neighbours(h.namespace) <= 1, `${h.name} has ${neighbours(h.namespace)} IPv4 neighbours`)
      assert.ok(neighbours(router) <= N + 1, `the router has ${neighbours(router)} IPv4 neighbours`)
      const after = overflowCount()
      if (overflowsBefore !== null && after !== null) assert.equal(after, overflowsBefore, 'no new "neighbor table overflow" in dmesg')
    })

    await t.test(`doctor on ${N} hosts with an Erlang node each is healthy`, async () => {
      const t0 = Date.now()
      await pool(lab.hosts.map((h) => h.name), 4, (h) => startNode(lab, h))
      times.push(`start ${N} nodes ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      let report: DoctorReport | undefined
      let r: Run | undefined
      // A fresh mesh may still be completing handshakes: a few bounded tries.
      for (let i = 0; i < 3 && !(report?.healthy && r?.status === 0); i++) {
        r = await mesh(['doctor', ...common, '--json', '--no-cluster']) // unclustered nodes on purpose: the cluster view has its own suite
        report = json(r) as DoctorReport
        // A red try that a later one turns green is still told: which checks failed, and where, says whether the
        // lab or doctor was at fault.
        const red = report.findings.filter((f) => f.severity !== 'warn')
        const where = [...new Set(red.map((f) => `${f.check} ${f.host}${f.peer ? `>${f.peer}` : ''}`))]
        // Pairs that answered only doctor's later ping: tunnels whose handshakes had crossed at the cold apply.
        const late = report.findings.filter((f) => f.label === 'ping late' || f.label === 'ping slow').map((f) => `${f.host}>${f.peer}`)
        times.push(`doctor ${(r.ms / 1000).toFixed(1)} s${red.length ? ` (red: ${red.length} failures: ${where.slice(0, 6).join(', ')}${where.length > 6 ? ', ...' : ''})` : ''}${late.length ? ` (ping late: ${late.slice(0, 6).join(', ')}${late.length > 6 ? ', ...' : ''})` : ''}`)
      }
      assert.equal(report!.hosts.length, N)
      assert.equal(report!.matrix.flat().length, N * N)
      assert.ok(report!.healthy && r!.status === 0, `doctor unhealthy (exit ${r!.status}): ${JSON.stringify(report!.findings.slice(0, 10))}`)
      assert.equal(report!.notes, undefined, 'every connection closed cleanly')
    })

    await t.test('no-op apply: Host-2 frozen (SIGSTOP sshd) and Host-1 cut (link down) after their last command', async () => {
      const frozen = lab.host('Host-2')
      const freeze = /^\[Host-2\s*\] up to date$/m
      const unplug = /^\[Host-1\s*\] up to date$/m
      let froze = false
      let unplugged = false
      const done = /Nothing to change\./
      // 4 at a time: after Host-1 and Host-2 (first in line) many hosts are still to do, so both faults land
      // before the CLI starts closing (a fault after the close would test nothing; see the count below).
      let pendingAtFaults = 0
      const r = await mesh(['apply', ...common, '--yes', '--concurrency', '4'], {
        timeoutMs: 300_000,
        watch: [done],
        onStderr: (text) => {
          if (!froze && freeze.test(text)) {
            froze = true
            for (const pid of nsPids(frozen.namespace, 'sshd')) {
              process.kill(pid, 'SIGSTOP')
              stopped.push(pid)
            }
          }
          if (!unplugged && unplug.test(text)) {
            unplugged = true
            execFileSync('ip', ['-n', router, 'link', 'set', cut.veth, 'down'])
          }
          if (froze && unplugged && !pendingAtFaults) pendingAtFaults = N - (text.match(/\] up to date$/gm)?.length ?? 0)
        },
      })
      times.push(`no-op apply with a frozen and a cut host ${(r.ms / 1000).toFixed(1)} s`)
      assert.ok(froze && unplugged && stopped.length > 0, `both faults injected (stderr: ${r.stderr.slice(0, 2000)})`)
      assert.ok(pendingAtFaults > 0, 'the faults came while hosts were still being checked, before any close')
      assert.equal(r.status, 0, `exit code: the hosts' work was done\n${r.stdout}\n${r.stderr.slice(0, 3000)}`)
      assert.match(r.stdout, /^note: Host-2: the SSH connection did not close within 3 s/m)
      assert.match(r.stdout, /^note: Host-1: the SSH connection did not close within 3 s/m)
      assert.equal(r.stdout.match(/^note: /gm)?.length, 2, 'no other host has a note')
      // The result was printed before closing; after it, closing took the bound (3 s), not minutes.
      const tail = r.ms - r.seen.get(done)!
      assert.ok(tail < 20_000, `the CLI exited ${tail} ms after printing its result`)
    })
  } finally {
    for (const pid of stopped) spawnSync('kill', ['-CONT', String(pid)])
    spawnSync('ip', ['-n', router, 'link', 'set', cut.veth, 'up'])
    console.error(`scale e2e (${N} hosts): ${times.join(', ')}`)
    await stopLab(lab)
  }
})
