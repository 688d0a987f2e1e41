// A small ~/.ssh/config reader (pure): the subset that decides where and as whom we connect.
// OpenSSH semantics: blocks are scanned top to bottom and the FIRST value of each keyword wins;
// IdentityFile accumulates. `Include` is followed (the caller reads the files: see loadSshConfig), also
// inside a Host block, where what it brings in applies only to that block's hosts. `Match` blocks are
// not supported and are skipped, so a config relying on them resolves as if those lines were absent.
import {UserError} from '../core/errors.js'
import {matchPattern} from './known-hosts.js'

export interface SshConfigBlock {
  /** Host patterns; the lines before the first `Host` form a block with pattern `*`. */
  patterns: string[]
  /** Outer Host lines (an Include inside a Host block): each must match too. */
  within?: string[][]
  options: Array<{key: string; value: string}>
}

/** Reads an Include argument (a path or glob, as written): the texts of the files it names, in order. */
export type IncludeReader = (pattern: string) => string[]

/** OpenSSH's limit on nested Include (READCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16

export interface JumpHost {
  user?: string
  host: string
  port?: number
}

export interface ResolvedSshConfig {
  hostName?: string
  user?: string
  port?: number
  identityFiles: string[]
  /** Hops in order (the first is dialled first); empty for a direct connection. */
  proxyJump: JumpHost[]
  /** A ProxyCommand (tokens not yet expanded); OpenSSH uses whichever of it and ProxyJump comes first. */
  proxyCommand?: string
}

/** Splits a config line into keyword and arguments; `Key=Value` and double quotes allowed. */
function splitLine(line: string): {key: string; args: string[]; raw: string} | null {
  const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(line)
  if (!m) return null
  const args: string[] = []
  const re = /"([^"]*)"|(\S+)/g
  let t: RegExpExecArray | null
  while ((t = re.exec(m[2])) !== null) args.push(t[1] ?? t[2])
  return {key: m[1].toLowerCase(), args, raw: m[2].trim()}
}

export function parseSshConfig(text: string, include?: IncludeReader, within: string[][] = [], depth = 0): SshConfigBlock[] {
  const inner = (patterns: string[]): SshConfigBlock => ({patterns, ...(within.length ? {within} : {}), options: []})
  const blocks: SshConfigBlock[] = [inner(['*'])]
  let current: SshConfigBlock | null = blocks[0]
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const parsed = splitLine(line)
    if (!parsed || parsed.args.length === 0) continue
    if (parsed.key === 'host') {
      current = inner(parsed.args)
      blocks.push(current)
    } else if (parsed.key === 'match') {
      current = null // unsupported: ignore its body until the next Host
    } else if (parsed.key === 'include' && current) {
      if (!include) throw new UserError('ssh config: Include is not allowed here', 'inline the included file')
      if (depth >= MAX_INCLUDE_DEPTH) throw new UserError(`ssh config: Include nested more than ${MAX_INCLUDE_DEPTH} deep`, 'check the Include lines for a loop')
      // Inside `Host P`, the included lines (their own Host blocks too) apply only to hosts matching P.
      const scope = current.patterns.length === 1 && current.patterns[0] === '*' ? within : [...within, current.patterns]
      for (const pattern of parsed.args) for (const t of include(pattern)) blocks.push(...parseSshConfig(t, include, scope, depth + 1))
      // Lines after the Include belong to the block it was in again.
      current = {...current, options: []}
      blocks.push(current)
    } else if (current) {
      // ProxyCommand is a shell command line: kept as written (quotes included).
      current.options.push({key: parsed.key, value: parsed.key === 'proxycommand' ? parsed.raw : parsed.args.join(' ')})
    }
  }
  return blocks
}

/** A Host line matches when one pattern matches and no `!pattern` does. */
export function hostBlockMatches(patterns: readonly string[], alias: string): boolean {
  let matched = false
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchPattern(p.slice(1), alias)) return false
    } else if (matchPattern(p, alias)) matched = true
  }
  return matched
}

/** `%h` (the target host) and `%%` in HostName, the tokens found in real configs. */
function expandTokens(value: string, alias: string): string {
  return value.replace(/%([%h])/g, (_, t: string) => (t === '%' ? '%' : alias))
}

/** `[user@]host[:port]` or `ssh://[user@]host[:port]`; IPv6 in brackets. */
export function parseJumpHost(spec: string): JumpHost | null {
  const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:@\s[\]]+)(?::(\d{1,5}))?$/.exec(spec)
  if (!m) return null
  const port = m[3] === undefined ? undefined : Number(m[3])
  if (port !== undefined && (port < 1 || port > 65535)) return null
  return {user: m[1], host: m[2].replace(/^\[|\]$/g, ''), port}
}

export function resolveSshConfig(blocks: readonly SshConfigBlock[], alias: string): ResolvedSshConfig {
  const first = new Map<string, string>()
  const identityFiles: string[] = []
  for (const block of blocks) {
    if (!hostBlockMatches(block.patterns, alias) || !(block.within ?? []).every((p) => hostBlockMatches(p, alias))) continue
    for (const {key, value} of block.options) {
      if ((key === 'proxyjump' || key === 'proxycommand') && !first.has('proxy')) first.set('proxy', key)
      if (key === 'identityfile') identityFiles.push(value)
      else if (!first.has(key)) first.set(key, value)
    }
  }
  const port = first.has('port') ? Number(first.get('port')) : undefined
  const proxy = first.get('proxy')
  const jump = proxy === 'proxyjump' ? first.get('proxyjump') : undefined
  const command = proxy === 'proxycommand' ? first.get('proxycommand') : undefined
  return {
    hostName: first.has('hostname') ? expandTokens(first.get('hostname')!, alias) : undefined,
    user: first.get('user'),
    port: port !== undefined && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined,
    identityFiles,
    proxyJump: jump === undefined || jump.toLowerCase() === 'none' ? [] : parseJumpList(jump),
    ...(command !== undefined && command.toLowerCase() !== 'none' ? {proxyCommand: command} : {}),
  }
}

function parseJumpList(value: string): JumpHost[] {
  return value.split(',').map((s) => {
    const hop = parseJumpHost(s.trim())
    if (!hop) throw new UserError(`ssh config: ProxyJump "${s.trim()}" is not [user@]host[:port]`, 'fix the ProxyJump line in your ssh config')
    return hop
  })
}
