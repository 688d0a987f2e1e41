// Local system helpers for the lab: run a program (typed failure), find binaries, look at /proc.
import {spawnSync} from 'node:child_process'
import {accessSync, constants, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {ExternalCommandError} from '../core/errors.js'

/** Root's usual PATH: a non-login shell (or sudo) may lack the sbin directories that hold ip and sshd. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

const found = new Map<string, string | null>()

/** Absolute path of a program, searching $PATH and then the system directories; null if absent. */
export function which(name: string): string | null {
  if (found.has(name)) return found.get(name)!
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SYSTEM_PATH.split(':')].filter(Boolean)
  let hit: string | null = null
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK)
      hit = join(dir, name)
      break
    } catch {
      // not in this directory
    }
  }
  found.set(name, hit)
  return hit
}

export interface LabCommandResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs a program without a shell; returns whatever happened. */
export function tryRun(program: string, args: string[], input?: string): LabCommandResult {
  const res = spawnSync(which(program) ?? program, args, {
    encoding: 'utf8',
    input,
    env: {...process.env, PATH: `${process.env.PATH ?? ''}:${SYSTEM_PATH}`},
    timeout: 30_000,
  })
  return {status: res.status, stdout: res.stdout ?? '', stderr: res.stderr ?? (res.error ? String(res.error) : '')}
}

/** Runs a program; a non-zero exit becomes an ExternalCommandError naming the command and its stderr. */
export function run(program: string, args: string[], input?: string): string {
  const res = tryRun(program, args, input)
  if (res.status !== 0) throw new ExternalCommandError('local', [program, ...args].join(' '), res.status, res.stderr)
  return res.stdout
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** True while the process exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** A process's argv, or null when it is gone. */
export function cmdline(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return null
  }
}

/** A process's command line as one string (sshd rewrites its argv into one "sshd: … [listener]" title). */
export function cmdlineText(pid: number): string | null {
  return cmdline(pid)?.join(' ') ?? null
}

/** Pids whose command line contains `needle` (used to find a crashed lab's sshd by its config path). */
export function pidsWithCmdline(needle: string): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const argv = cmdline(Number(entry))
    if (argv && argv.join(' ').includes(needle)) out.push(Number(entry))
  }
  return out
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL what is left. Returns the pids that were signalled. */
export async function killAll(pids: number[], graceMs = 3000): Promise<number[]> {
  const alive = [...new Set(pids)].filter((p) => p > 1 && p !== process.pid && pidAlive(p))
  const signal = (p: number, s: NodeJS.Signals) => {
    try {
      process.kill(p, s)
    } catch {
      // already gone
    }
  }
  alive.forEach((p) => signal(p, 'SIGTERM'))
  const deadline = Date.now() + graceMs
  while (alive.some(pidAlive) && Date.now() < deadline) await sleep(50)
  const stubborn = alive.filter(pidAlive)
  stubborn.forEach((p) => signal(p, 'SIGKILL'))
  const killDeadline = Date.now() + 2000
  while (stubborn.some(pidAlive) && Date.now() < killDeadline) await sleep(50)
  return alive
}
