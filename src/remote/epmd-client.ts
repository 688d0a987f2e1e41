// EPMD queries over any Duplex: a net.Socket to 127.0.0.1 locally, or an ssh2 direct-tcpip
// channel from Transport.openTcp() so the query leaves from the host itself (the tunnel view).
// epmd closes after replying, so we read until EOF, bounded by a timeout and a byte cap, and
// always destroy the stream: one query, one connection, nothing left open on any path.
import type {Duplex} from 'node:stream'

import {EpmdNames, EpmdPortReply, decodeNamesReply, decodePort2Resp, encodeNamesReq, encodePortPlease2Req} from '../core/epmd.js'
import {ParseError, Parsed} from '../core/parse.js'
import {ioTimeout} from './timeouts.js'

/** A NAMES reply for a busy host is a few KB; a megabyte means something else is talking. */
export const EPMD_MAX_REPLY_BYTES = 1 << 20

export type ProbeFailureReason = 'timeout' | 'too-large' | 'io' | 'parse'

export interface ProbeFailure {
  ok: false
  reason: ProbeFailureReason
  /** One line for a human; for `io` it carries the socket error code (ECONNREFUSED, ...). */
  message: string
  /** `io` only: the Node error code, when there is one. */
  code?: string
  /** `parse` only. */
  parseError?: ParseError
}

export type ProbeResult<T> = {ok: true; value: T} | ProbeFailure

export interface ExchangeOptions {
  timeoutMs: number
  maxBytes?: number
}

/**
 * Writes `request`, collects everything until the peer ends the stream. Resolves (never rejects)
 * with the bytes or a failure; the stream is destroyed before the promise settles.
 */
export function exchangeUntilEof(socket: Duplex, request: Buffer, opts: ExchangeOptions): Promise<ProbeResult<Buffer>> {
  const maxBytes = opts.maxBytes ?? EPMD_MAX_REPLY_BYTES
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (result: ProbeResult<Buffer>) => {
      if (done) return
      done = true
      timer.clear()
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      // Keep a listener: a late error after destroy must not become an uncaught exception.
      socket.on('error', () => {})
      socket.destroy()
      resolve(result)
    }
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += buf.length
      if (size > maxBytes) return finish({ok: false, reason: 'too-large', message: `reply exceeded ${maxBytes} bytes`})
      chunks.push(buf)
    }
    const onEnd = () => finish({ok: true, value: Buffer.concat(chunks)})
    const onError = (err: NodeJS.ErrnoException) =>
      finish({ok: false, reason: 'io', code: err.code, message: err.code ? `${err.code}: ${err.message}` : err.message})
    const timer = ioTimeout(opts.timeoutMs, () =>
      finish({ok: false, reason: 'timeout', message: `no complete reply within ${opts.timeoutMs} ms (${size} bytes received)`}),
    )
    socket.on('data', onData)
    socket.once('end', onEnd)
    // 'close' without 'end' (e.g. an ssh channel torn down) still means no more data is coming.
    socket.once('close', onEnd)
    socket.once('error', onError)
    socket.write(request)
  })
}

function decoded<T>(raw: ProbeResult<Buffer>, decode: (b: Buffer) => Parsed<T>): ProbeResult<T> {
  if (!raw.ok) return raw
  const p = decode(raw.value)
  return p.ok ? p : {ok: false, reason: 'parse', message: p.error.message, parseError: p.error}
}

/** NAMES_REQ: which nodes are registered with this epmd, and on which ports. */
export async function epmdNames(socket: Duplex, timeoutMs: number, maxBytes?: number): Promise<ProbeResult<EpmdNames>> {
  return decoded(await exchangeUntilEof(socket, encodeNamesReq(), {timeoutMs, maxBytes}), decodeNamesReply)
}

/** PORT_PLEASE2_REQ for the alive part of a node name (`app`, not `app@host`). */
export async function epmdPortPlease(socket: Duplex, name: string, timeoutMs: number): Promise<ProbeResult<EpmdPortReply>> {
  let request: Buffer
  try {
    request = encodePortPlease2Req(name)
  } catch (err) {
    socket.destroy()
    throw err
  }
  return decoded(await exchangeUntilEof(socket, request, {timeoutMs, maxBytes: 4096}), decodePort2Resp)
}
