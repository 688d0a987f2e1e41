// A growable byte buffer meant to be reused. Rendering a fleet's files one host at a time makes many
// large, short-lived buffers; a fresh one each time costs the page faults of new memory (on a VM, more
// than the copying itself), while a reused one is already mapped.

export class ByteBuilder {
  private buf: Buffer
  private len = 0

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial)
  }

  /** Empties the builder; the memory is kept for the next use. */
  reset(): this {
    this.len = 0
    return this
  }

  append(chunk: Buffer | string): this {
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length
    this.reserve(size)
    if (typeof chunk === 'string') this.buf.write(chunk, this.len)
    else chunk.copy(this.buf, this.len)
    this.len += size
    return this
  }

  /** The bytes so far: a view, valid until the next reset or append. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len)
  }

  private reserve(size: number): void {
    if (this.len + size <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + size))
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }
}
