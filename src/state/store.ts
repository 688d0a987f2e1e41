// Local state beside the inventory: addresses and public keys in state.json, private keys and other
// secrets in files of their own (0600 in 0700 dirs). Nothing here ever regenerates an existing secret.
import {Stats, closeSync, existsSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, statSync, writeSync} from 'node:fs'
import {basename, dirname, extname, join, resolve} from 'node:path'

import {UserError} from '../core/errors.js'
import {fileKind, readRegularFile} from './files.js'
import {parseState} from './schema.js'

/** state.json of 5000 hosts is about 2 MB: anything far bigger is not ours. */
const MAX_STATE_BYTES = 64 * 1024 * 1024
const MAX_SECRET_BYTES = 4096

export interface SshTargetState {
  user?: string
  host: string
  port?: number
}

export interface HostState {
  ipv4?: string
  ipv6?: string
  /** Absent only with network.keys: host, until an apply collects the key the host made. */
  publicKey?: string
  /**
   * During a key rotation: the public key of keys/<host>.key.next (network.keys: host: of the key the host made),
   * committed once every host runs with it.
   */
  pendingPublicKey?: string
  /**
   * keyCheckOf(private key, publicKey): while it matches the key file, publicKey is that key's and need
   * not be derived again (a derivation costs far more than reading the file). A cache, never trusted
   * alone: any edit of the key file or of publicKey makes it miss.
   */
  keyCheck?: string
  /** network.keys: host: `rotate-keys` asked for a new key; the next apply has the host make it. */
  rotateOnHost?: true
  /** Where the host was reached: kept so a host removed from the inventory can still be torn down. */
  endpoint?: string
  ssh?: SshTargetState
}

export interface ArchivedHost extends HostState {
  name: string
  /** True until `mesh apply` has torn the host's own interface down (or it was unreachable and skipped). */
  teardownPending: boolean
}

export interface MeshState {
  version: 1
  /** 'host': the mesh's private keys live on its hosts (set by the first apply with network.keys: host). */
  keys?: 'host'
  hosts: Record<string, HostState>
  archived: ArchivedHost[]
}

export const emptyState = (): MeshState => ({version: 1, hosts: {}, archived: []})

export function defaultStateDir(inventoryFile: string): string {
  const file = resolve(inventoryFile)
  return join(dirname(file), '.mesh', basename(file, extname(file)))
}

export function defaultOutDir(inventoryFile: string): string {
  const file = resolve(inventoryFile)
  return join(dirname(file), 'out', basename(file, extname(file)))
}

/** Who may own our files: the invoking user, or root (as OpenSSH's StrictModes allows). */
export function assertOwned(path: string, st: Stats): void {
  const uid = process.getuid?.()
  if (uid === undefined || st.uid === uid || st.uid === 0) return
  throw new UserError(
    `${path} is owned by uid ${st.uid}, not by you (uid ${uid}): someone else could have written what it holds`,
    `check its content; if it is yours, chown ${uid} ${path}, otherwise remove it`,
  )
}

/** Mode bits of a secret (or its folder) checked on a stat we already hold: the fix is a chmod, and we say which. */
export function assertPrivateStat(path: string, st: Stats, kind: 'file' | 'dir'): void {
  assertOwned(path, st)
  const bad = st.mode & 0o077
  if (bad) {
    throw new UserError(
      `${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); it holds secrets`,
      `chmod ${kind === 'dir' ? '700' : '600'} ${path}`,
    )
  }
}

/**
 * Refuse secrets that others can read or write, like OpenSSH's StrictModes: the path itself (not a link)
 * must be a folder or regular file, owned by us, private. A link is refused before any chmod is suggested:
 * a chmod on a link acts on its target.
 */
export function assertPrivate(path: string, kind: 'file' | 'dir'): void {
  const st = lstatSync(path)
  if (st.isSymbolicLink()) {
    throw new UserError(`${path} is a symbolic link; secrets and their folders must be the ${kind === 'dir' ? 'folder' : 'file'} itself`, `remove the link (rm ${path} removes only the link) and put the ${kind === 'dir' ? 'folder' : 'file'} itself in its place`)
  }
  if (kind === 'dir' ? !st.isDirectory() : !st.isFile()) {
    throw new UserError(`${path} is ${fileKind(st)}, not a ${kind === 'dir' ? 'folder' : 'regular file'}`, `remove it; mesh creates it`)
  }
  assertPrivateStat(path, st, kind)
}

export function ensurePrivateDir(path: string): void {
  if (!existsSync(path)) mkdirSync(path, {recursive: true, mode: 0o700})
  assertPrivate(path, 'dir')
}

export interface WriteOptions {
  /**
   * fsync the file and its folder (default): for what cannot be made again (state.json, an inventory).
   * Output that init renders again from state is written atomically only (temp + rename): a crash
   * leaves the old or the new file, never half of one, and a re-run rewrites it.
   */
  durable?: boolean
}

/**
 * Write a file only when its bytes differ (so re-runs change nothing, not even mtimes),
 * through a temp file + rename so a crash never leaves half a file. Returns true if written.
 */
export function writeIfChanged(path: string, content: string | Buffer, mode: number, {durable = true}: WriteOptions = {}): boolean {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content
  if (sameFile(path, bytes, mode)) return false
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', mode)
  try {
    // open()'s mode is masked by the umask and ignored for a leftover temp file: set it explicitly,
    // or a umask of 077 would make every re-run see a mode change and rewrite the file.
    fchmodSync(fd, mode)
    writeSync(fd, bytes)
    if (durable) fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  if (durable) fsyncDir(dirname(path))
  return true
}

/** The file holds exactly these bytes with this mode. A size or mode that differs is seen without reading it. */
function sameFile(path: string, bytes: Buffer, mode: number): boolean {
  const st = statSync(path, {throwIfNoEntry: false})
  if (!st) return false
  // Not a regular file: readRegularFile throws the error that says what it is.
  if (!st.isFile()) readRegularFile(path, {what: 'file', maxBytes: MAX_STATE_BYTES})
  if (st.size !== bytes.length || (st.mode & 0o777) !== mode) return false
  return readRegularFile(path, {what: 'file', maxBytes: MAX_STATE_BYTES})?.equals(bytes) ?? false
}

/** A new or renamed entry is durable only once its folder is synced too. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export class StateStore {
  readonly keysDir: string
  readonly secretsDir: string
  readonly stateFile: string
  /** Folders with entries created or renamed since their last fsync (see syncDirs). */
  private readonly unsynced = new Set<string>()

  constructor(readonly dir: string) {
    this.keysDir = join(dir, 'keys')
    this.secretsDir = join(dir, 'secrets')
    this.stateFile = join(dir, 'state.json')
  }

  exists(): boolean {
    return existsSync(this.stateFile)
  }

  /** Check modes of everything secret before reading any of it. */
  checkModes(): void {
    for (const d of [this.dir, this.keysDir, this.secretsDir]) if (existsSync(d)) assertPrivate(d, 'dir')
  }

  load(): MeshState {
    if (!this.exists()) return emptyState()
    this.checkModes()
    const bytes = readRegularFile(this.stateFile, {what: 'state file', maxBytes: MAX_STATE_BYTES, noFollow: true, check: (st) => assertOwned(this.stateFile, st)})
    if (bytes === null) return emptyState()
    let raw: unknown
    try {
      raw = JSON.parse(bytes.toString('utf8'))
    } catch (e) {
      throw new UserError(`${this.stateFile} is not valid JSON (${(e as Error).message})`, 'restore it from a backup; it holds the address assignments')
    }
    return parseState(raw, this.stateFile)
  }

  /** Keys and secrets first, then state.json: the state never names a key that a crash could lose. */
  save(state: MeshState): boolean {
    ensurePrivateDir(this.dir)
    this.syncDirs()
    return writeIfChanged(this.stateFile, stableJson(state), 0o600)
  }

  /** A secret file was created or renamed in this folder: syncDirs (or save) makes the entry durable. */
  touched(dir: string): void {
    this.unsynced.add(dir)
  }

  /** fsync every folder with new entries, once each: a thousand new keys cost one folder sync, not a thousand. */
  syncDirs(): void {
    for (const d of this.unsynced) fsyncDir(d)
    this.unsynced.clear()
  }

  /** Archived hosts torn down successfully: teardownPending=false (written only after the teardown). */
  markTornDown(names: string[]): void {
    if (!names.length) return
    const state = this.load()
    for (const a of state.archived) if (names.includes(a.name)) a.teardownPending = false
    this.save(state)
  }

  keyFile(host: string): string {
    return join(this.keysDir, `${host}.key`)
  }

  readSecret(path: string): string | null {
    const what = path.endsWith('.key') || path.endsWith('.key.next') ? 'private key' : 'secret'
    const check = (st: Stats) => assertPrivateStat(path, st, 'file')
    const bytes = readRegularFile(path, {what, maxBytes: MAX_SECRET_BYTES, noFollow: true, check})
    return bytes === null ? null : bytes.toString('utf8').trim()
  }

  /** Returns the existing secret, or creates it with make() (0600) when there is none. */
  secret(path: string, make: () => string): {value: string; created: boolean} {
    const existing = this.readSecret(path)
    if (existing !== null) return {value: existing, created: false}
    ensurePrivateDir(dirname(path))
    const value = make()
    // 'wx' fails if another process created it meanwhile: never overwrite a secret.
    const fd = openSync(path, 'wx', 0o600)
    try {
      writeSync(fd, `${value}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    // The entry in its folder, and that folder's own entry (keys/ and secrets/ are made on first use).
    this.touched(dirname(path))
    this.touched(this.dir)
    return {value, created: true}
  }
}

/** JSON with sorted object keys and a final newline: identical input, identical bytes. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort)
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      )
    return v
  }
  return `${JSON.stringify(sort(value), null, 2)}\n`
}
