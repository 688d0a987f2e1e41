// The transport: the few verbs everything remote is built on (sshkit style). Implementations: ssh2
// (ssh.ts) and an in-memory fake for tests. Commands are argv arrays; quoting happens in one place.
import type {Duplex} from 'node:stream'

export interface RunOptions {
  /** Bytes for the command's stdin: the only way secrets travel. */
  stdin?: string | Buffer
  /** Run as root: prefixed with `sudo -n` (in the C locale) when the SSH user is not root. */
  sudo?: boolean
  timeoutMs?: number
}

export interface RunResult {
  /** Exit status, or null when the command died from a signal. */
  code: number | null
  /** The signal's name (e.g. SIGKILL) when code is null. */
  signal?: string
  stdout: string
  stderr: string
}

export interface Transport {
  /** For messages: the inventory host name. */
  readonly name: string
  /** The SSH user (for messages such as a sudo password failure); undefined when not known. */
  readonly user?: string
  /** Run argv on the host and capture its output. Never throws for a non-zero exit. */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>
  /** A TCP connection opened *from* the host to host:port (ssh direct-tcpip). */
  openTcp(host: string, port: number): Promise<Duplex>
  /**
   * Ends the session, bounded in time whatever the peer does. Resolves (never rejects) with how it went;
   * void means a clean close (implementations without a network socket).
   */
  close(): Promise<CloseResult | void>
}

/** How a close went: `forced` when the peer did not finish the disconnect in time and the socket was dropped. */
export interface CloseResult {
  forced: boolean
  /** Why it was forced, for a note in the command's result. */
  detail?: string
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/

/** POSIX shell quoting for one word. The only place argv becomes a command string. */
export function shellQuote(word: string): string {
  if (word === '') return "''"
  if (SAFE_WORD.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

export function commandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command')
  return argv.map(shellQuote).join(' ')
}
