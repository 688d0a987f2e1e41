// known_hosts parsing and host-key checking, as pure code (no fs): ssh2 only hands us the raw key,
// so deciding known / unknown / changed / revoked is ours, and it must fail closed like OpenSSH.
import {createHash, createHmac, randomBytes, timingSafeEqual} from 'node:crypto'

export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority'
  /** The host field as written: patterns, or one `|1|salt|hmac` hashed name. */
  hosts: string
  keyType: string
  key: Buffer
  /** 1-based line number, for messages that point at the offending entry. */
  line: number
  file?: string
}

export type HostKeyVerdict =
  | {status: 'known'; entry: KnownHostEntry}
  | {status: 'revoked'; entry: KnownHostEntry}
  /** Same key type known for this host with a different key: possible man-in-the-middle. */
  | {status: 'changed'; entries: KnownHostEntry[]}
  /** Nothing for this key type; `otherTypes` lists key types that are known for the host. */
  | {status: 'unknown'; otherTypes: string[]}

/** Parses known_hosts text; malformed lines are skipped (OpenSSH does the same). */
export function parseKnownHosts(text: string, file?: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/)
    if (fields[0] === '' || fields[0].startsWith('#')) return
    let marker: KnownHostEntry['marker']
    if (fields[0].startsWith('@')) {
      const m = fields.shift()!.slice(1)
      if (m !== 'revoked' && m !== 'cert-authority') return
      marker = m
    }
    if (fields.length < 3) return
    const [hosts, keyType, b64] = fields
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return
    const key = Buffer.from(b64, 'base64')
    // The blob starts with its own type name: a mismatch means a corrupt or tampered line.
    if (keyTypeOf(key) !== keyType) return
    entries.push({marker, hosts, keyType, key, line: i + 1, file})
  })
  return entries
}

/** The key type encoded at the start of an SSH public key blob (uint32 length + name). */
export function keyTypeOf(key: Buffer): string | null {
  if (key.length < 4) return null
  const len = key.readUInt32BE(0)
  if (len === 0 || len > 64 || key.length < 4 + len) return null
  return key.subarray(4, 4 + len).toString('latin1')
}

/** The name known_hosts stores: `host` on port 22, `[host]:port` otherwise; lowercased as ssh does. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase()
  return port === 22 ? h : `[${h}]:${port}`
}

/** Compiled globs: every host of a fleet is checked against every known_hosts line, so each pattern is compiled once. */
const globs = new Map<string, RegExp>()

/** OpenSSH-style glob: `*` any run, `?` one character; case-insensitive like hostnames. */
export function matchPattern(pattern: string, s: string): boolean {
  // Most lines name one host or address: no glob to compile.
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === s.toLowerCase()
  let re = globs.get(pattern)
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i')
    globs.set(pattern, re)
  }
  return re.test(s)
}

/**
 * A comma-separated pattern list: matches when some positive pattern matches and no negated one
 * does (a `!pattern` match vetoes the whole list, as in OpenSSH's match_hostname).
 */
export function matchPatternList(list: string, s: string): boolean {
  let matched = false
  for (const p of list.split(',')) {
    if (p.startsWith('!')) {
      if (matchPattern(p.slice(1), s)) return false
    } else if (p !== '' && matchPattern(p, s)) matched = true
  }
  return matched
}

function matchHashed(field: string, name: string): boolean {
  const parts = field.split('|') // ['', '1', salt, hmac]
  if (parts.length !== 4 || parts[1] !== '1') return false
  const salt = Buffer.from(parts[2], 'base64')
  const want = Buffer.from(parts[3], 'base64')
  const got = createHmac('sha1', salt).update(name).digest()
  return want.length === got.length && timingSafeEqual(want, got)
}

export function entryMatchesHost(entry: KnownHostEntry, name: string): boolean {
  if (entry.hosts.startsWith('|')) return matchHashed(entry.hosts, name)
  return matchPatternList(entry.hosts, name)
}

/**
 * Verdict for `key` offered by the host whose known_hosts name is `name` (see knownHostsName).
 * A @revoked key is refused whatever host pattern its line carries: a revoked key is never good.
 * @cert-authority lines are ignored: ssh2 does not do host certificates.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key))
  if (revoked) return {status: 'revoked', entry: revoked}
  const type = keyTypeOf(key)
  const forHost = entries.filter((e) => e.marker === undefined && entryMatchesHost(e, name))
  const same = forHost.find((e) => e.key.equals(key))
  if (same) return {status: 'known', entry: same}
  const sameType = forHost.filter((e) => e.keyType === type)
  if (sameType.length > 0) return {status: 'changed', entries: sameType}
  return {status: 'unknown', otherTypes: [...new Set(forHost.map((e) => e.keyType))]}
}

/** Key types known for a host, so the client can ask the server for those first (as OpenSSH does). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  const types = entries.filter((e) => e.marker === undefined && entryMatchesHost(e, name)).map((e) => e.keyType)
  return [...new Set(types)]
}

/** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -lf` and ssh print it. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

/** One known_hosts line; hashed like `HashKnownHosts yes` when asked (salt injectable for tests). */
export function formatKnownHostsLine(name: string, key: Buffer, opts: {hashed?: boolean; salt?: Buffer} = {}): string {
  const type = keyTypeOf(key)
  if (type === null) throw new Error('not an SSH public key blob')
  let hosts = name
  if (opts.hashed) {
    const salt = opts.salt ?? randomBytes(20)
    hosts = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
  }
  return `${hosts} ${type} ${key.toString('base64')}`
}
