// Writing init's output folder: files rendered again from state on every run, so each is written
// atomically (temp + rename: a crash leaves the old or the new file) without an fsync, and only when
// its bytes or mode differ. Buffers are reused from file to file: a fleet's files are many large,
// short-lived buffers, and fresh memory costs page faults on each.
import {closeSync, constants, fchmodSync, fstatSync, openSync, readSync, renameSync, statSync, writeSync} from 'node:fs'

import {readRegularFile} from './files.js'

export class OutputWriter {
  private readBuf = Buffer.allocUnsafe(64 * 1024)
  /** The last string written and its bytes: a file shared by every host is encoded once. */
  private lastText?: string
  private lastBytes?: Buffer

  /** Returns true when the file was written (false: it held these bytes and this mode already). */
  write(path: string, content: Buffer | string, mode: number): boolean {
    const bytes = typeof content === 'string' ? this.encode(content) : content
    if (this.holds(path, bytes, mode)) return false
    const tmp = `${path}.tmp-${process.pid}`
    const fd = openSync(tmp, 'w', mode)
    try {
      // open()'s mode is masked by the umask and ignored for a leftover temp file: set it explicitly.
      fchmodSync(fd, mode)
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
    return true
  }

  private encode(text: string): Buffer {
    if (text !== this.lastText) {
      this.lastText = text
      this.lastBytes = Buffer.from(text)
    }
    return this.lastBytes!
  }

  /** Same bytes and mode. A size or mode that differs is seen on the stat, without reading the file. */
  private holds(path: string, bytes: Buffer, mode: number): boolean {
    const st = statSync(path, {throwIfNoEntry: false})
    if (!st) return false
    // Not a regular file (a folder, a FIFO): readRegularFile throws the error that says what it is.
    if (!st.isFile()) readRegularFile(path, {what: 'file', maxBytes: 0})
    if (st.size !== bytes.length || (st.mode & 0o777) !== mode) return false
    if (this.readBuf.length < bytes.length + 1) this.readBuf = Buffer.allocUnsafe(bytes.length * 2 + 1)
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      if (!fstatSync(fd).isFile()) return false
      // One byte past the expected size: a file that grew since the stat is seen as different.
      let n = 0
      for (let got = -1; got !== 0 && n <= bytes.length; n += got) got = readSync(fd, this.readBuf, n, bytes.length + 1 - n, null)
      return n === bytes.length && this.readBuf.subarray(0, n).equals(bytes)
    } finally {
      closeSync(fd)
    }
  }
}
