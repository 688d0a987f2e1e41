// A cookie-free probe of a node's distribution port (Erlang "Distribution Protocol", handshake
// version 6, OTP 23+). We send send_name as a hidden node, read the status and, when the node
// lets us go on, its challenge: that carries the node's own name, which we compare with the name
// we dialled exactly as a dialling node does (case-sensitive; app@Host-B-wg != app@Host-B).
// Then we hang up: without the cookie we could not answer the challenge, and need not.
import {randomBytes} from 'node:crypto'
import type {Duplex} from 'node:stream'

import {Parsed, parseFail, parsed, preview} from '../core/parse.js'
import {ProbeResult} from './epmd-client.js'
import {ioTimeout} from './timeouts.js'

// Capability flags (kernel/include/dist.hrl). We claim the OTP 25 mandatory set both bit by bit
// (for OTP 23/24 peers) and as its digest (OTP 27+ demands the digest), plus the flags OTP 26
// made mandatory. PUBLISHED is left out: the probe is a hidden node, nobody should cluster with it.
const DFLAG = {
  EXTENDED_REFERENCES: 0x4n, DIST_MONITOR: 0x8n, FUN_TAGS: 0x10n, DIST_MONITOR_NAME: 0x20n,
  NEW_FUN_TAGS: 0x80n, EXTENDED_PIDS_PORTS: 0x100n, EXPORT_PTR_TAG: 0x200n, BIT_BINARIES: 0x400n,
  NEW_FLOATS: 0x800n, UNICODE_IO: 0x1000n, SMALL_ATOM_TAGS: 0x4000n, UTF8_ATOMS: 0x10000n,
  MAP_TAG: 0x20000n, BIG_CREATION: 0x40000n, SEND_SENDER: 0x80000n, BIG_SEQTRACE_LABELS: 0x100000n,
  EXIT_PAYLOAD: 0x400000n, FRAGMENTS: 0x800000n, HANDSHAKE_23: 0x1000000n, UNLINK_ID: 0x2000000n,
  MANDATORY_25_DIGEST: 0x4000000n, SPAWN: 1n << 32n, V4_NC: 4n << 32n, ALIAS: 8n << 32n,
}
export const PROBE_FLAGS = Object.values(DFLAG).reduce((a, b) => a | b, 0n)

export type DistStatus = 'ok' | 'ok_simultaneous' | 'nok' | 'not_allowed' | 'alive' | 'named'

export interface DistStatusMsg {
  status: DistStatus
  /** `named:` only: the name the node assigned us. */
  assignedName?: string
}

export interface DistChallenge {
  /** The name the node calls itself. */
  nodeName: string
  version: 5 | 6
}

export interface DistProbeReport {
  status: DistStatus
  /** The node's own name, from its challenge (absent when it refused us before sending one). */
  nodeName?: string
  /** nodeName === dialledName; null when the node never told us its name. */
  nameMatches: boolean | null
  dialledName: string
}

/** send_name, version 6: `u16 len, 'N', u64 flags, u32 creation, u16 nlen, name`. */
export function encodeSendName(ownName: string, creation: number, flags = PROBE_FLAGS): Buffer {
  const name = Buffer.from(ownName, 'utf8')
  const body = Buffer.alloc(1 + 8 + 4 + 2 + name.length)
  body.write('N', 0, 'latin1')
  body.writeBigUInt64BE(flags, 1)
  body.writeUInt32BE(creation >>> 0, 9)
  body.writeUInt16BE(name.length, 13)
  name.copy(body, 15)
  const len = Buffer.alloc(2)
  len.writeUInt16BE(body.length)
  return Buffer.concat([len, body])
}

const STATUSES: readonly DistStatus[] = ['ok', 'ok_simultaneous', 'nok', 'not_allowed', 'alive']

/** The body (after the u16 length) of a status message: `'s' status`. */
export function decodeDistStatus(body: Buffer): Parsed<DistStatusMsg> {
  if (body.length < 2 || body[0] !== 0x73) return parseFail('garbage', `expected a status message ('s'), got "${preview(body.toString('latin1'))}"`)
  const rest = body.subarray(1)
  if (rest.subarray(0, 6).toString('latin1') === 'named:') {
    // 'named:' u16 nlen name u32 creation
    if (rest.length < 8) return parseFail('truncated', 'named: status stops before its name length')
    const nlen = rest.readUInt16BE(6)
    if (rest.length < 8 + nlen + 4) return parseFail('truncated', 'named: status stops inside its name')
    return parsed({status: 'named', assignedName: rest.subarray(8, 8 + nlen).toString('utf8')})
  }
  const status = rest.toString('latin1') as DistStatus
  return STATUSES.includes(status) ? parsed({status}) : parseFail('garbage', `unknown handshake status "${preview(rest.toString('latin1'))}"`)
}

/** The body of a challenge: v6 `'N' u64 flags u32 challenge u32 creation u16 nlen name`, or old `'n' u16 ver u32 flags u32 challenge name`. */
export function decodeDistChallenge(body: Buffer): Parsed<DistChallenge> {
  if (body[0] === 0x4e) {
    if (body.length < 19) return parseFail('truncated', 'challenge stops inside its fixed fields')
    const nlen = body.readUInt16BE(17)
    if (body.length !== 19 + nlen) return parseFail(body.length < 19 + nlen ? 'truncated' : 'garbage', 'challenge name length does not match the message')
    return parsed({nodeName: body.subarray(19).toString('utf8'), version: 6})
  }
  if (body[0] === 0x6e) {
    if (body.length < 11) return parseFail('truncated', 'challenge stops inside its fixed fields')
    return parsed({nodeName: body.subarray(11).toString('utf8'), version: 5})
  }
  return parseFail('garbage', `expected a challenge ('N'), got "${preview(body.toString('latin1'))}"`)
}

export interface DistProbeOptions {
  /** The full node name we "dialled", e.g. app@Host-B: the node must call itself exactly that. */
  dialledName: string
  timeoutMs: number
  /** Our own name in send_name; default mesh_doctor_<random>@<host part of dialledName>, so short/long style matches. */
  ownName?: string
}

/** Runs the probe over `socket` (already connected to the dist port); always destroys it. */
export function distProbe(socket: Duplex, opts: DistProbeOptions): Promise<ProbeResult<DistProbeReport>> {
  const host = opts.dialledName.split('@')[1] ?? 'localhost'
  const ownName = opts.ownName ?? `mesh_doctor_${randomBytes(4).toString('hex')}@${host}`
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0)
    let statusMsg: DistStatusMsg | undefined
    let done = false
    const finish = (r: ProbeResult<DistProbeReport>) => {
      if (done) return
      done = true
      timer.clear()
      socket.off('data', onData)
      socket.on('error', () => {})
      socket.destroy()
      resolve(r)
    }
    const report = (nodeName?: string): ProbeResult<DistProbeReport> => ({
      ok: true,
      value: {status: statusMsg!.status, nodeName, nameMatches: nodeName === undefined ? null : nodeName === opts.dialledName, dialledName: opts.dialledName},
    })
    const fail = (p: {ok: false; error: {kind: 'empty' | 'truncated' | 'garbage'; message: string}}) =>
      finish({ok: false, reason: 'parse', message: p.error.message, parseError: p.error})
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      if (buf.length > 4096) return finish({ok: false, reason: 'too-large', message: 'handshake message over 4096 bytes'})
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const body = buf.subarray(2, 2 + buf.readUInt16BE(0))
        buf = buf.subarray(2 + body.length)
        if (!statusMsg) {
          const s = decodeDistStatus(body)
          if (!s.ok) return fail(s)
          statusMsg = s.value
          // Only these let the handshake go on to the challenge; the rest end it here.
          if (!['ok', 'ok_simultaneous', 'named'].includes(statusMsg.status)) return finish(report())
        } else {
          const c = decodeDistChallenge(body)
          return c.ok ? finish(report(c.value.nodeName)) : fail(c)
        }
      }
    }
    const onEnd = () =>
      statusMsg
        ? finish(report())
        : finish({ok: false, reason: 'parse', message: 'connection closed before a handshake status', parseError: {kind: buf.length ? 'truncated' : 'empty', message: 'no status'}})
    const timer = ioTimeout(opts.timeoutMs, () => finish({ok: false, reason: 'timeout', message: `no handshake reply within ${opts.timeoutMs} ms`}))
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('close', onEnd)
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ok: false, reason: 'io', code: err.code, message: err.code ? `${err.code}: ${err.message}` : err.message}))
    socket.write(encodeSendName(ownName, randomBytes(4).readUInt32BE(0) || 1))
  })
}
