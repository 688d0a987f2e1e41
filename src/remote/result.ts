// Turning a RunResult into an error when the caller needs success (sshkit's `execute` vs `capture`),
// plus the sudo wrapping. Shared by the ssh2 transport and the fake, so behaviour is identical.
import {ExternalCommandError, UserError} from '../core/errors.js'
import {commandLine} from './transport.js'
import type {RunResult} from './transport.js'

/** `sudo -n` never prompts: with no NOPASSWD rule it fails fast with this text instead of hanging. */
const SUDO_PASSWORD = /a password is required|a terminal is required/i

/**
 * The argv actually sent: `env LC_ALL=C sudo -n -- argv` for a non-root user asking for root. The C locale makes
 * sudo say SUDO_PASSWORD's words in English whatever the host's language (a German sudo says "Ein Passwort ist
 * notwendig"), so that failure is named with its fix everywhere; sudo keeps LC_ALL for the command too.
 */
export function withSudo(argv: readonly string[], user: string, sudo: boolean | undefined): readonly string[] {
  if (!sudo || user === 'root') return argv
  return ['env', 'LC_ALL=C', 'sudo', '-n', '--', ...argv]
}

export function isSudoPasswordFailure(result: RunResult): boolean {
  return result.code === 1 && SUDO_PASSWORD.test(result.stderr)
}

/** The SSH user cannot become root without a password: fixable by the user, so exit code 2. */
export class SudoPasswordError extends UserError {
  constructor(readonly where: string, readonly user: string | undefined, readonly command: string) {
    const who = user ?? 'the SSH user'
    super(
      `${where}: \`${command}\` needs root, but sudo asks ${who} for a password`,
      `configure NOPASSWD sudo for ${who} or connect as root (e.g. the line \`${who} ALL=(ALL) NOPASSWD: ALL\` in a file under /etc/sudoers.d/)`,
    )
    this.name = 'SudoPasswordError'
  }
}

/**
 * The text of a per-host failure (the apply's host result): the message, plus the fix when the failure is the
 * user's to fix on the host, since a host result has no separate place for it.
 */
export function hostErrorText(e: unknown): string {
  const err = e as Error
  return err instanceof UserError && err.fix ? `${err.message}: ${err.fix}` : err.message
}

/** The command ran past RunOptions.timeoutMs; its channel was closed (and the process signalled). */
export class CommandTimeoutError extends ExternalCommandError {
  constructor(where: string, command: string, readonly timeoutMs: number) {
    super(where, command, null, '')
    this.message = `${where}: \`${command}\` did not finish within ${timeoutMs / 1000} s and was stopped (a slow host may need a higher --command-timeout)`
    this.name = 'CommandTimeoutError'
  }
}

/** What assertOk needs to know about where the command ran: a name, or a transport (name + user). */
export type Where = string | {readonly name: string; readonly user?: string}

/**
 * Throws unless the command exited 0: ExternalCommandError naming the command, status and stderr,
 * or SudoPasswordError when sudo wanted a password. `argv` is what the caller asked to run.
 */
export function assertOk(result: RunResult, where: Where, argv: readonly string[]): RunResult {
  if (result.code === 0) return result
  const name = typeof where === 'string' ? where : where.name
  const user = typeof where === 'string' ? undefined : where.user
  const command = commandLine(argv)
  if (isSudoPasswordFailure(result)) throw new SudoPasswordError(name, user, command)
  const stderr = result.code === null && result.signal ? `killed by ${result.signal}. ${result.stderr}` : result.stderr
  throw new ExternalCommandError(name, command, result.code, stderr)
}
