// Shared by the lab benches (not a bench itself: scripts/run-bench.mjs runs bench/*.ts only, not bench/lib/).
// The real CLI (dist/, run `npm run build` first), a lab on the bench's own prefix and /24 that is always
// removed (finally, and on SIGINT/SIGTERM), and the `BENCH {json}` line scripts/run-bench.mjs tabulates.
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'

import {UserError} from '../../src/core/errors.js'
import {LabHost, LabUpResult, labDown, labExec, labUp} from '../../src/lab/index.js'
import {claimLabSlot} from '../../src/lab/slot.js'
import {HANDSHAKE_RESTARTED_NOTE} from '../../src/services/fresh-tunnels.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = join(ROOT, 'bin', 'run.js')

export const fmt = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`)
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** The machine-readable last line of a bench: scripts/run-bench.mjs collects it for the summary table. */
export function emitBench(name: string, data: Record<string, unknown>) {
  console.log(`BENCH ${JSON.stringify({bench: name, node: process.version, date: new Date().toISOString(), ...data})}`)
}

export function printTable(rows: string[][]) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  for (const r of rows) console.log(r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd())
}

// ---- interruption: every lab registered here is taken down before the process exits on a signal.
const cleanups = new Set<() => Promise<unknown>>()
let exiting = false
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (exiting) return
    exiting = true
    console.error(`\nbench: ${sig}: taking the lab down`)
    // Bounded: labDown kills and deletes only what its prefix names; 60 s at most, then exit anyway.
    const all = Promise.allSettled([...cleanups].map((c) => c()))
    void Promise.race([all, sleep(60_000)]).finally(() => process.exit(130))
  })
}
export const interrupted = () => exiting

export interface MeshRun {
  status: number | null
  stdout: string
  stderr: string
  ms: number
}

/** The real CLI as a child process (wall time of the whole process), bounded by timeoutMs. */
export async function runMesh(args: string[], opts: {home?: string; timeoutMs?: number} = {}): Promise<MeshRun> {
  if (exiting) throw new Error('interrupted')
  const t0 = performance.now()
  const env = {NO_COLOR: '1', ...(opts.home ? {HOME: opts.home} : {})}
  const r = await execa(process.execPath, [BIN, ...args], {stdin: 'ignore', env, timeout: opts.timeoutMs ?? 300_000, reject: false, stripFinalNewline: false})
  if (r.failed && r.exitCode === undefined && !r.isTerminated) throw new Error(r.shortMessage)
  return {status: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0}
}

/** runMesh that throws on a non-zero exit (with the first lines of stderr only: stdout is never echoed). */
export async function meshOk(args: string[], opts: {home?: string; timeoutMs?: number} = {}): Promise<MeshRun> {
  const r = await runMesh(args, opts)
  if (r.status !== 0) throw new Error(`mesh ${args[0]} exited ${r.status}: ${r.stderr.split('\n').slice(0, 8).join('\n')}`)
  return r
}

/**
 * What an `apply --json` said about first sessions: its warnings, and each host's note that it started a crossed
 * pair's handshake again. Printed by the lab benches, so a pair without a session later is seen next to it.
 */
export function firstSessionsSaid(applyStdout: string): string[] {
  try {
    const j = JSON.parse(applyStdout) as {warnings?: string[]; hosts?: {name: string; notes?: string[]}[]}
    const restarts = (j.hosts ?? []).flatMap((h) => (h.notes ?? []).filter((n) => n.startsWith(HANDSHAKE_RESTARTED_NOTE)).map((n) => `${h.name}: ${n}`))
    return [...(j.warnings ?? []).map((w) => `warning: ${w}`), ...restarts]
  } catch {
    return ['(apply output is not JSON)']
  }
}

export interface BenchLab {
  result: LabUpResult
  dir: string
  hosts: LabHost[]
  host(name: string): LabHost
  /** An empty HOME for the CLI, so no ~/.ssh/config of the operator leaks in. */
  home: string
  upMs: number
}

/**
 * Lab of n hosts on prefix/net (the bench's own: never another lab's), fn, then always lab down and the temp dir
 * removed (also when fn throws, and on SIGINT/SIGTERM). A lab already on the same addresses is waited for (5 min).
 */
export async function withBenchLab<T>(n: number, fn: (lab: BenchLab) => Promise<T>): Promise<T> {
  const slot = claimLabSlot()
  const {prefix, net} = slot
  const dir = mkdtempSync(join(tmpdir(), `beam-mesh-bench-${prefix}-`))
  let downing: Promise<unknown> | undefined
  const down = () =>
    (downing ??= labDown({dir, prefix})
      .catch((e) => console.error(`bench: lab down ${prefix}: ${(e as Error).message}`))
      .finally(() => {
        rmSync(dir, {recursive: true, force: true})
        slot.release()
      }))
  cleanups.add(down)
  try {
    const t0 = performance.now()
    const until = Date.now() + 5 * 60_000
    let result: LabUpResult
    for (;;) {
      if (exiting) throw new Error('interrupted')
      try {
        result = await labUp({hosts: n, dir, prefix, net})
        break
      } catch (err) {
        if (!(err instanceof UserError && /already/.test(err.message)) || Date.now() > until) throw err
        console.error(`bench: lab addresses busy (${err.message}); retrying in 10 s`)
        await sleep(10_000)
      }
    }
    const home = join(dir, 'cli-home')
    mkdirSync(home, {recursive: true, mode: 0o700})
    const lab: BenchLab = {
      result,
      dir,
      hosts: result.hosts,
      home,
      upMs: performance.now() - t0,
      host(name) {
        const h = result.hosts.find((x) => x.name === name)
        if (!h) throw new Error(`no lab host ${name}`)
        return h
      },
    }
    return await fn(lab)
  } finally {
    await down()
    cleanups.delete(down)
  }
}

/** Runs `sh -c script` on a lab host (nsenter, no SSH); throws on a non-zero exit. */
export async function onHost(host: LabHost, script: string, opts: {env?: Record<string, string>; timeoutMs?: number; args?: string[]} = {}) {
  const r = await labExec(host, ['sh', '-c', script, 'sh', ...(opts.args ?? [])], {env: opts.env, timeoutMs: opts.timeoutMs ?? 30_000})
  if (r.status !== 0) throw new Error(`${host.name}: ${script.slice(0, 80)}… exited ${r.status}: ${r.stderr.slice(0, 400)}`)
  return r.stdout
}

/**
 * An Erlang node `app` on the host, as the apply docs and test/e2e/apply.test.ts start it: env.sh (EPMD on the tunnel
 * address), the cookie copied from the file apply wrote into a private HOME (never in argv), vm.args. Waits (at most
 * 60 s: a loaded machine starting 64 nodes is slow) until it is registered with EPMD.
 */
export async function startAppNode(lab: BenchLab, host: LabHost): Promise<void> {
  const home = join(lab.dir, 'erl-home', host.name)
  mkdirSync(home, {recursive: true, mode: 0o700})
  const prep = '. /etc/beam-mesh/wg0/env.sh && cp /etc/beam-mesh/wg0/cookie "$HOME/.erlang.cookie" && chmod 400 "$HOME/.erlang.cookie"'
  await onHost(host, `${prep} && exec erl -sname app -noshell -detached -args_file /etc/beam-mesh/wg0/vm.args`, {env: {HOME: home}, timeoutMs: 30_000})
  const deadline = Date.now() + 60_000
  let names = ''
  while (Date.now() < deadline) {
    names = (await labExec(host, ['epmd', '-names'], {timeoutMs: 5000})).stdout
    if (/^name app at port \d+/m.test(names)) return
    await sleep(250)
  }
  throw new Error(`${host.name}: node app not registered with EPMD within 60 s: ${names.trim()}`)
}

/** Runs fn over items, at most `limit` at once. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(
    Array.from({length: Math.min(limit, queue.length)}, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item)
    }),
  )
}
