// Local system helpers for the lab: run a program (typed failure), find binaries, look at /proc.
import {readFileSync, readdirSync} from 'node:fs'

import {execaSync} from 'execa'

import {ExternalCommandError} from '../core/errors.js'

/** Root's usual PATH: a non-login shell (or sudo) may lack the sbin directories that hold ip and sshd. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

const found = new Map<string, string | null>()

/** The PATH the lab runs programs with: the caller's, then root's usual directories. */
const searchPath = () => [process.env.PATH, SYSTEM_PATH].filter(Boolean).join(':')

/**
 * Absolute path of a program as the shell finds it (`command -v`) on that PATH; null if absent. Needed where
 * a path must be absolute (sshd re-executes itself by its own path) or only presence is asked (prerequisites).
 */
export function which(name: string): string | null {
  if (found.has(name)) return found.get(name)!
  const res = execaSync('sh', ['-c', 'command -v -- "$1"', 'sh', name], {env: {PATH: searchPath()}, extendEnv: false, reject: false})
  const hit = res.exitCode === 0 && res.stdout.startsWith('/') ? res.stdout : null
  found.set(name, hit)
  return hit
}

export interface LabCommandResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs a program without a shell (bounded: 30 s); returns whatever happened, a failure to start included. */
export function tryRun(program: string, args: string[], input?: string): LabCommandResult {
  const res = execaSync(program, args, {
    input,
    env: {PATH: searchPath()},
    timeout: 30_000,
    reject: false,
    stripFinalNewline: false,
  })
  // A program that could not start has no output at all (stdout undefined), only the reason.
  return {status: res.exitCode ?? null, stdout: res.stdout ?? '', stderr: res.stderr || (res.failed && res.exitCode === undefined ? (res.shortMessage ?? '') : '')}
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
