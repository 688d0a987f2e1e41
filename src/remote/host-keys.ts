// Host-key verification wired to ssh2's hostVerifier: reads the known_hosts files, decides with the
// pure checker and, only when asked (acceptNew), records a NEW key like StrictHostKeyChecking=accept-new.
// ssh2 reports a refusal as a bare "Host denied", so the verifier keeps the real reason for connect().
import {appendFile, mkdir, readFile, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

import {ConnectionError} from '../core/errors.js'
import {readRegularFile} from '../state/files.js'
import {
  KnownHostEntry,
  checkHostKey,
  fingerprintSha256,
  formatKnownHostsLine,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
} from './known-hosts.js'

export interface HostKeyPolicy {
  /** Files read, in order; missing files are skipped. */
  files: string[]
  /** Where acceptNew appends (created 0600, its directory 0700, when missing). */
  writeFile: string
  acceptNew?: boolean
  /** Append hashed names (`|1|salt|hmac`), like HashKnownHosts yes. */
  hashNew?: boolean
}

/** Far above any real known_hosts (a line is about 100 bytes). */
const MAX_KNOWN_HOSTS_BYTES = 16 * 1024 * 1024

export async function loadKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = []
  for (const file of files) {
    // A FIFO or /dev/zero here would hang or fill memory: a regular file, bounded, or an error naming it.
    const bytes = readRegularFile(file, {what: 'known_hosts file', maxBytes: MAX_KNOWN_HOSTS_BYTES})
    if (bytes !== null) all.push(...parseKnownHosts(bytes.toString('utf8'), file))
  }
  return all
}

/** ssh2's default host key algorithms (ssh-dss left out on purpose), in its order. */
const HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']

/**
 * The full host key algorithm list with the types already known for the host first, so a host
 * with both an ed25519 and an RSA key, known by its RSA key, is recognised instead of "unknown"
 * (OpenSSH orders HostKeyAlgorithms the same way). Types ssh2 cannot do are dropped.
 */
export function preferredHostKeyAlgos(knownTypes: readonly string[]): string[] {
  const first = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]))
  return [...new Set([...first.filter((a) => HOST_KEY_ALGOS.includes(a)), ...HOST_KEY_ALGOS])]
}

export interface HostVerifier {
  /** For ssh2's `hostVerifier` (async form: it calls `verify` later). */
  verify: (key: Buffer, verify: (ok: boolean) => void) => void
  /** Why the key was refused, or undefined when it was not. */
  refusal(): ConnectionError | undefined
  /** Key types known for this host, for the algorithm preference. */
  knownTypes: string[]
}

export async function makeHostVerifier(label: string, host: string, port: number, policy: HostKeyPolicy): Promise<HostVerifier> {
  const entries = await loadKnownHosts(policy.files)
  const name = knownHostsName(host, port)
  let refused: ConnectionError | undefined
  const refuse = (err: ConnectionError, verify: (ok: boolean) => void) => {
    refused = err
    verify(false)
  }
  const verify = (key: Buffer, done: (ok: boolean) => void) => {
    const verdict = checkHostKey(entries, name, key)
    const fp = fingerprintSha256(key)
    const type = keyTypeOf(key) ?? 'unknown-type'
    if (verdict.status === 'known') return done(true)
    if (verdict.status === 'revoked') {
      return refuse(new ConnectionError(label, `host key ${type} ${fp} for ${name} is marked @revoked in ${where(verdict.entry)}: refusing to connect`, 'the server must be given a new host key'), done)
    }
    if (verdict.status === 'changed') {
      return refuse(changedKeyError(label, name, host, port, type, fp, verdict.entries), done)
    }
    if (verdict.otherTypes.length > 0) {
      // The server no longer offers the key type we know: treat like a change, never auto-accept.
      return refuse(new ConnectionError(label,
        `host ${name} offered a ${type} key (${fp}) but known_hosts only has ${verdict.otherTypes.join(', ')} for it: ` +
        'possible man-in-the-middle attack, refusing to connect', removeFix(host, port)), done)
    }
    if (!policy.acceptNew) return refuse(unknownKeyError(label, name, host, port, type, fp, policy.writeFile), done)
    appendKnownHost(policy.writeFile, formatKnownHostsLine(name, key, {hashed: policy.hashNew})).then(
      () => done(true),
      (err: Error) => refuse(new ConnectionError(label, `cannot record the host key in ${policy.writeFile}: ${err.message}`), done),
    )
  }
  return {verify, refusal: () => refused, knownTypes: knownKeyTypes(entries, name)}
}

const where = (e: KnownHostEntry) => `${e.file ?? 'known_hosts'}:${e.line}`

const removeFix = (host: string, port: number) =>
  `if the host was really reinstalled, verify the new fingerprint out of band, then remove the old entry with ` +
  `\`ssh-keygen -R ${port === 22 ? host : `'[${host}]:${port}'`}\``

function changedKeyError(label: string, name: string, host: string, port: number, type: string, fp: string, old: KnownHostEntry[]) {
  return new ConnectionError(label,
    `REMOTE HOST KEY HAS CHANGED for ${name}: possible man-in-the-middle attack. ` +
    `The server offered ${type} ${fp}, but ${old.map(where).join(', ')} records a different key. Refusing to connect ` +
    '(acceptNew never replaces a known key)', removeFix(host, port))
}

function unknownKeyError(label: string, name: string, host: string, port: number, type: string, fp: string, file: string) {
  return new ConnectionError(label,
    `unknown host key for ${name}: ${type} ${fp}. Refusing to connect to a host that is not in known_hosts`,
    `verify that fingerprint out of band (on the host: \`ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-|-.*$/g, '')}_key.pub\`), ` +
    `then run \`ssh-keyscan -p ${port} ${host} >> ${file}\`, or connect once with acceptNew (StrictHostKeyChecking=accept-new)`)
}

async function appendKnownHost(file: string, line: string): Promise<void> {
  await mkdir(dirname(file), {recursive: true, mode: 0o700})
  // Start on a fresh line even if the file lacks a trailing newline.
  let prefix = ''
  try {
    const s = await stat(file)
    if (s.size > 0) {
      const text = await readFile(file)
      if (text[text.length - 1] !== 0x0a) prefix = '\n'
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await appendFile(file, `${prefix}${line}\n`, {mode: 0o600})
}
