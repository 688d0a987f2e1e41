// Run a command "on" a lab host as root without SSH: enter the net, mount and UTS namespaces of its sshd.
import {spawn} from 'node:child_process'
import type {Readable} from 'node:stream'

import {ExternalCommandError, UserError} from '../core/errors.js'
import {SYSTEM_PATH, pidAlive} from './sys.js'

export interface LabExecTarget {
  name: string
  pid?: number
}

export interface LabExecOptions {
  /** Written to the command's stdin. */
  input?: string
  /** Killed after this long (default 30 s). */
  timeoutMs?: number
  env?: Record<string, string>
}

export interface LabExecResult {
  status: number | null
  stdout: string
  stderr: string
}

/**
 * `nsenter -t <sshd pid> -n -m -u -- argv`: the command sees the host's hostname, /etc/hosts, /etc/wireguard and
 * network, exactly like an SSH session (wireguard-go's opt-in variable included).
 */
/** How long output may trail a command's exit before the pipes are taken as held by a daemon it started. */
const EXIT_GRACE_MS = 500

export function labExec(host: LabExecTarget, argv: string[], opts: LabExecOptions = {}): Promise<LabExecResult> {
  if (host.pid === undefined || !pidAlive(host.pid)) {
    return Promise.reject(new UserError(`lab host ${host.name} is not running (no live sshd)`, 'run `mesh lab status`, or restart the lab'))
  }
  const args = ['-t', String(host.pid), '-n', '-m', '-u', '--', ...argv]
  // spawn, not execa: execa waits for the pipes to close, and a daemon the command starts (wireguard-go, epmd) holds them.
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', args, {
      env: {PATH: SYSTEM_PATH, LANG: 'C.UTF-8', HOME: '/root', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', ...opts.env},
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 30_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    // Daemons started by the command (wireguard-go, epmd) may keep the pipes open, so 'close' may never come.
    // But output can still be in flight when 'exit' fires: wait for both pipes to end, at most a grace period
    // (a pipe still open after it is a daemon's), then stop reading.
    const ended = (s: Readable) => new Promise<void>((done) => (s.readableEnded ? done() : s.once('end', done)))
    child.on('exit', (status, signal) => {
      const grace = new Promise<void>((done) => setTimeout(done, EXIT_GRACE_MS))
      void Promise.race([Promise.all([ended(child.stdout), ended(child.stderr)]), grace]).then(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        resolve({status: status ?? (signal ? null : 0), stdout, stderr})
      })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

/** labExec that throws an ExternalCommandError on a non-zero exit; returns stdout. */
export async function labExecOk(host: LabExecTarget, argv: string[], opts: LabExecOptions = {}): Promise<string> {
  const res = await labExec(host, argv, opts)
  if (res.status !== 0) throw new ExternalCommandError(host.name, argv.join(' '), res.status, res.stderr)
  return res.stdout
}
