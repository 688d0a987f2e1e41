// The parse kit every fact parser shares (pyinfra style: a command runs remotely, a pure parser reads its
// output): the Parsed result type, and the getent and hostname parsers. Parsers never throw on bad input:
// hosts and sockets hand us whatever they like, and the doctor must turn that into a finding, not a crash.

/** Why some bytes/text could not be understood. `truncated` = a valid prefix that stopped early. */
export interface ParseError {
  kind: 'empty' | 'truncated' | 'garbage'
  message: string
}

export type Parsed<T> = {ok: true; value: T} | {ok: false; error: ParseError}

export const parsed = <T>(value: T): Parsed<T> => ({ok: true, value})
export const parseFail = <T = never>(kind: ParseError['kind'], message: string): Parsed<T> => ({ok: false, error: {kind, message}})

/** Printable preview of untrusted text for error messages: short, no control characters. */
export function preview(text: string, max = 40): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
  return clean.length > max ? `${clean.slice(0, max)}…` : clean
}

/** The first answer of `getent hosts NAME` or `getent ahosts NAME`. */
export interface GetentAnswer {
  address: string
  /** Canonical name and aliases as getent printed them (`ahosts` prints only the canonical name). */
  names: string[]
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/
/** At least two colons: every IPv6 text form has them, a word like "sudo:" has one. */
const IPV6 = /^(?=(?:[^:]*:){2})[0-9A-Fa-f:.]+(?:%[\w.-]+)?$/
const AHOSTS_TYPES = new Set(['STREAM', 'DGRAM', 'RAW'])

/**
 * `getent hosts|ahosts NAME` stdout -> first answer, or null when the name did not resolve
 * (getent exits 2 and prints nothing; the caller passes the empty stdout here).
 * The first line is what libc hands a connecting program first, so that is the one that counts.
 */
export function parseGetent(stdout: string): Parsed<GetentAnswer | null> {
  const line = stdout.split('\n').map((l) => l.trim()).find((l) => l !== '')
  if (line === undefined) return parsed(null)
  const [address, ...rest] = line.split(/\s+/)
  if (!IPV4.test(address) && !IPV6.test(address)) return parseFail('garbage', `getent: "${preview(line)}" does not start with an IP address`)
  // ahosts lines are "ADDR STREAM name" (later lines: "ADDR DGRAM" without a name).
  const names = AHOSTS_TYPES.has(rest[0] ?? '') ? rest.slice(1) : rest
  return parsed({address, names})
}

/** `hostname` stdout -> the name and its first label (what `erl -sname` uses as the host part). */
export interface HostnameFact {
  hostname: string
  short: string
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/

export function parseHostname(stdout: string): Parsed<HostnameFact> {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  if (lines.length === 0) return parseFail('empty', 'hostname printed nothing')
  if (lines.length > 1 || !HOSTNAME.test(lines[0]) || lines[0].length > 253) {
    return parseFail('garbage', `hostname printed "${preview(lines.join(' '))}", not a host name`)
  }
  const hostname = lines[0].replace(/\.$/, '')
  return parsed({hostname, short: hostname.split('.')[0]})
}
