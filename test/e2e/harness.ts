// Reusable e2e harness: real lab hosts (network namespaces with their own sshd) for tests that need root.
// Usage:  test('x', async (t) => { if (!requireLab(t)) return; await withLab(3, async (lab) => { … }) })
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import type {TestContext} from 'node:test'
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'

import {
  LabDownResult,
  LabExecOptions,
  LabExecResult,
  LabHost,
  LabUpResult,
  checkLabPrerequisites,
  labDown,
  labExec,
  labUp,
} from '../../src/lab/index.js'
import {LabSlot, claimLabSlot} from '../../src/lab/slot.js'


export interface Lab {
  result: LabUpResult
  dir: string
  /** Claimed at run time (bmt<net>), so two test runs on one machine never collide. */
  prefix: string
  /** The lab's /24: 198.18.<net>.0/24. */
  net: number
  hosts: LabHost[]
  /** By name (case-sensitive) or by 0-based index. */
  host(which: string | number): LabHost
  /** Root on the host via the system ssh client, the lab key and known_hosts (StrictHostKeyChecking=yes). */
  ssh(host: LabHost | string | number, command: string, opts?: LabExecOptions): Promise<LabExecResult>
  /** Root on the host without SSH (nsenter into its sshd's namespaces). */
  exec(host: LabHost | string | number, argv: string[], opts?: LabExecOptions): Promise<LabExecResult>
  /** ssh(1) arguments before the destination, for tests that run ssh themselves. */
  sshArgs(): string[]
}

/** null when the lab can run here; otherwise why not. */
export function labSkipReason(): string | null {
  const p = checkLabPrerequisites()
  return p.ok ? null : p.reason
}

/**
 * True when the lab can run. Otherwise skips the test LOUDLY (console.error + t.skip with the reason) and returns
 * false; but with $CI set a missing prerequisite is a failure, never a silent skip.
 */
export function requireLab(t: TestContext): boolean {
  const reason = labSkipReason()
  if (!reason) return true
  if (process.env.CI) throw new Error(`e2e lab prerequisites missing in CI (CI=${process.env.CI}): ${reason}`)
  const msg = `SKIPPED e2e lab test "${t.name}": ${reason}`
  console.error(`\n${'!'.repeat(msg.length)}\n${msg}\n${'!'.repeat(msg.length)}\n`)
  t.skip(reason)
  return false
}

/**
 * The e2e tests drive the built CLI (dist/, made by `npm test` before they run). Missing: skip loudly, or
 * fail under $CI. `command` is a path under dist/commands, e.g. 'apply.js' or 'lab/up.js'.
 */
export function requireBuiltCli(t: TestContext, command: string): boolean {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  if (existsSync(join(root, 'dist', 'commands', command))) return true
  if (process.env.CI) throw new Error('dist/ is not built: run npm run build before the e2e tests')
  console.error(`\n!!! SKIPPED e2e test "${t.name}": dist/ is not built (npm run build) !!!\n`)
  t.skip('dist/ not built')
  return false
}

const active = new Set<Lab>()

export interface StartLabOptions {
  /** Default: a fresh directory under the system temp dir, removed by stopLab. */
  dir?: string
}

const ownedDirs = new WeakMap<Lab, string>()
const slots = new WeakMap<Lab, LabSlot>()

/**
 * startLab, but when the lab's network is already held (a previous run, a lab made by hand), wait and retry
 * (bounded) instead of tearing down something this test did not make.
 */
export async function startLabWaiting(n: number, opts: StartLabOptions, waitMs = 120_000): Promise<Lab> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      return await startLab(n, opts)
    } catch (err) {
      const busy = /already on interface|already exists/.test((err as Error).message)
      if (!busy || Date.now() > deadline) throw err
      console.error(`lab: network busy (${(err as Error).message}), retrying in 5 s`)
      await new Promise((r) => setTimeout(r, 5000))
    }
  }
}

export async function startLab(n: number, opts: StartLabOptions = {}): Promise<Lab> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'beam-mesh-lab-'))
  const slot = claimLabSlot()
  const {prefix, net} = slot
  const progress = process.env.LAB_VERBOSE ? (m: string) => console.error(`lab: ${m}`) : undefined
  let result: LabUpResult
  try {
    result = await labUp({hosts: n, dir, prefix, net, onProgress: progress})
  } catch (err) {
    slot.release()
    if (!opts.dir) rmSync(dir, {recursive: true, force: true})
    throw err
  }
  const pick = (h: LabHost | string | number): LabHost => (typeof h === 'object' ? h : lab.host(h))
  const sshArgs = () => [
    '-F', '/dev/null',
    '-i', result.identityFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${result.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'ConnectTimeout=5',
    '-l', 'root',
  ]
  const lab: Lab = {
    result,
    dir,
    prefix,
    net,
    hosts: result.hosts,
    host(which) {
      const h = typeof which === 'number' ? result.hosts[which] : result.hosts.find((x) => x.name === which)
      if (!h) throw new Error(`no lab host ${which} (have ${result.hosts.map((x) => x.name).join(', ')})`)
      return h
    },
    ssh: (h, command, o) => runProcess('ssh', [...sshArgs(), '-p', String(pick(h).sshPort), pick(h).address, command], o),
    exec: (h, argv, o) => labExec(pick(h), argv, o),
    sshArgs,
  }
  active.add(lab)
  slots.set(lab, slot)
  if (!opts.dir) ownedDirs.set(lab, dir)
  return lab
}

/** Removes the lab (every process, namespace, link, file) and the temp dir startLab made. No lab: all active ones. */
export async function stopLab(lab?: Lab): Promise<LabDownResult[]> {
  const labs = lab ? [lab] : [...active]
  const results: LabDownResult[] = []
  for (const l of labs) {
    active.delete(l)
    try {
      results.push(await labDown({dir: l.dir, prefix: l.prefix}))
    } finally {
      slots.get(l)?.release()
    }
    const owned = ownedDirs.get(l)
    if (owned) rmSync(owned, {recursive: true, force: true})
  }
  return results
}

/** Brings up n hosts, runs fn, and always tears the lab down (also when fn throws). */
export async function withLab<T>(n: number, fn: (lab: Lab) => Promise<T>, opts: StartLabOptions = {}): Promise<T> {
  const lab = await startLab(n, opts)
  try {
    return await fn(lab)
  } finally {
    await stopLab(lab)
  }
}

/** Runs a local program with optional stdin and a time limit; never throws for a non-zero exit. */
export async function runProcess(program: string, args: string[], opts: LabExecOptions = {}): Promise<LabExecResult> {
  const r = await execa(program, args, {input: opts.input ?? '', timeout: opts.timeoutMs ?? 30_000, env: opts.env, reject: false, stripFinalNewline: false})
  // A program that could not start is an error; a non-zero exit or a timeout (status null) is a result.
  if (r.failed && r.exitCode === undefined && !r.isTerminated) throw new Error(r.shortMessage)
  return {status: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr}
}
