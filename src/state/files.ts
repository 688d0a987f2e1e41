// Reading files we are handed (inventory, state.json, keys, known_hosts) without trusting what they are:
// a FIFO would block the read forever, /dev/zero would fill memory, a directory gives a raw EISDIR. The
// file is opened non-blocking, checked through its descriptor (no race between the check and the read)
// and read with a bound.
import {closeSync, constants, fstatSync, lstatSync, openSync, readSync, Stats} from 'node:fs'

import {UserError} from '../core/errors.js'

/** What a file that is not a regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device'
  if (st.isSocket()) return 'a socket'
  if (st.isSymbolicLink()) return 'a symbolic link'
  return 'not a regular file'
}

export interface ReadOptions {
  /** Named in errors: "inventory file", "private key", ... */
  what: string
  maxBytes: number
  /** Refuse a symbolic link instead of following it (secrets: the file itself must be ours). */
  noFollow?: boolean
  /** Checks on the open file's stat before a byte is read (owner, mode). */
  check?: (st: Stats) => void
  /** The error for a file over maxBytes (default: a UserError). */
  tooBig?: (size: number) => Error
}

/** The file's bytes, or null when it does not exist. Throws a UserError naming the path otherwise. */
export function readRegularFile(path: string, o: ReadOptions): Buffer | null {
  if (isAbsent(path)) return null
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (o.noFollow ? constants.O_NOFOLLOW : 0))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    if (code === 'ELOOP') {
      throw new UserError(
        `${o.what} ${path} is a symbolic link; it must be the file itself`,
        `remove the link (rm ${path} removes only the link) and put the file itself in its place`,
      )
    }
    throw new UserError(`cannot open ${o.what} ${path}: ${(e as Error).message}`, 'check the path and its permissions')
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new UserError(`${o.what} ${path} is ${fileKind(st)}, not a regular file`, `give the path of a regular file`)
    o.check?.(st)
    if (st.size > o.maxBytes) throw o.tooBig?.(st.size) ?? new UserError(`${o.what} ${path} is ${st.size} bytes; the limit is ${o.maxBytes}`, 'check that this is the right file')
    // Read to the bound plus one byte: a file growing while we read is still caught.
    const buf = Buffer.alloc(Math.min(st.size, o.maxBytes) + 1)
    let n = 0
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null)
    if (n > o.maxBytes) throw o.tooBig?.(n) ?? new UserError(`${o.what} ${path} grew past ${o.maxBytes} bytes while being read`, 'check that this is the right file')
    return buf.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

/**
 * No entry at this path (a dangling link is an entry). Asked before the open because a missing file is the
 * common case for some callers, a new fleet's keys: an open that fails throws, and the error with its stack
 * costs about 20 us, ten times the lstat. A file that goes between the two is still seen by the open.
 */
function isAbsent(path: string): boolean {
  try {
    return lstatSync(path, {throwIfNoEntry: false}) === undefined
  } catch {
    return false // ENOTDIR, EACCES...: the open says what it is
  }
}

