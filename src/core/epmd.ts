// The EPMD wire protocol, pure: request encoders and reply decoders (see FACTS.md, "EPMD").
// Requests are framed (u16 length + body); replies are not framed and epmd closes the
// connection after replying, so a decoder always sees the complete reply or a truncated one.
import {Parsed, parseFail, parsed, preview} from './parse.js'

export const EPMD_DEFAULT_PORT = 4369
const NAMES_REQ = 0x6e
const PORT_PLEASE2_REQ = 0x7a
const PORT2_RESP = 0x77
/** Node names are atoms: at most 255 characters, so the u16 frame never overflows. */
const MAX_NAME_BYTES = 255

export interface EpmdNode {
  name: string
  port: number
}

export interface EpmdNames {
  /** The port epmd says it listens on (its own view; through a forward it may differ from the dialled one). */
  epmdPort: number
  nodes: EpmdNode[]
}

export interface EpmdPortInfo {
  name: string
  port: number
  /** 77 = normal Erlang node, 72 = hidden (C node). */
  nodeType: number
  /** 0 = TCP/IPv4. */
  protocol: number
  highestVersion: number
  lowestVersion: number
  extra: Buffer
}

export type EpmdPortReply = {found: true; node: EpmdPortInfo} | {found: false; result: number}

function frame(body: Buffer): Buffer {
  const out = Buffer.alloc(2 + body.length)
  out.writeUInt16BE(body.length, 0)
  body.copy(out, 2)
  return out
}

/** `00 01 6E` */
export function encodeNamesReq(): Buffer {
  return frame(Buffer.from([NAMES_REQ]))
}

/** `u16(1+len) 7A name`. Throws for names no node can have: that is a caller bug, not input. */
export function encodePortPlease2Req(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8')
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES || name.includes('@')) {
    throw new Error(`EPMD node name must be 1-${MAX_NAME_BYTES} bytes without the @host part, got "${preview(name)}"`)
  }
  return frame(Buffer.concat([Buffer.from([PORT_PLEASE2_REQ]), bytes]))
}

const NAME_LINE = /^name (\S+) at port (\d{1,5})$/

/** u32 epmd port, then `name <N> at port <P>\n` lines until EOF. */
export function decodeNamesReply(buf: Buffer): Parsed<EpmdNames> {
  if (buf.length === 0) return parseFail('empty', 'epmd closed the connection without replying')
  if (buf.length < 4) return parseFail('truncated', `NAMES reply is ${buf.length} bytes, shorter than its 4-byte header`)
  const epmdPort = buf.readUInt32BE(0)
  if (epmdPort === 0 || epmdPort > 65535) {
    return parseFail('garbage', `NAMES reply starts with port ${epmdPort}: not an epmd reply`)
  }
  const text = buf.subarray(4).toString('utf8')
  const lines = text.split('\n')
  // Every line ends with \n, so the last split element must be empty; anything else was cut off.
  const tail = lines.pop()
  if (tail !== '') return parseFail('truncated', `NAMES reply ends mid-line: "${preview(tail ?? '')}"`)
  const nodes: EpmdNode[] = []
  for (const line of lines) {
    const m = NAME_LINE.exec(line)
    const port = m ? Number(m[2]) : 0
    if (!m || port < 1 || port > 65535) return parseFail('garbage', `unexpected line in NAMES reply: "${preview(line)}"`)
    nodes.push({name: m[1], port})
  }
  return parsed({epmdPort, nodes})
}

/**
 * `77 00 u16 port u8 type u8 proto u16 high u16 low u16 nlen name u16 elen extra`, or `77 <n>` with
 * n != 0 when the name is not registered. Trailing bytes after a complete reply are garbage.
 */
export function decodePort2Resp(buf: Buffer): Parsed<EpmdPortReply> {
  if (buf.length === 0) return parseFail('empty', 'epmd closed the connection without replying')
  if (buf[0] !== PORT2_RESP) return parseFail('garbage', `PORT2_RESP must start with 0x77, got 0x${buf[0].toString(16).padStart(2, '0')}`)
  if (buf.length < 2) return parseFail('truncated', 'PORT2_RESP stops before its result byte')
  const result = buf[1]
  if (result !== 0) {
    return buf.length === 2 ? parsed({found: false, result}) : parseFail('garbage', `${buf.length - 2} unexpected bytes after a not-found PORT2_RESP`)
  }
  const need = (n: number, what: string) => (buf.length < n ? `PORT2_RESP is ${buf.length} bytes, stops inside ${what}` : null)
  const short = need(12, 'the fixed fields')
  if (short) return parseFail('truncated', short)
  const nlen = buf.readUInt16BE(10)
  const cut = need(12 + nlen + 2, 'the node name')
  if (cut) return parseFail('truncated', cut)
  const elenAt = 12 + nlen
  const elen = buf.readUInt16BE(elenAt)
  const cutExtra = need(elenAt + 2 + elen, 'the extra field')
  if (cutExtra) return parseFail('truncated', cutExtra)
  if (buf.length > elenAt + 2 + elen) return parseFail('garbage', `${buf.length - (elenAt + 2 + elen)} unexpected bytes after PORT2_RESP`)
  const port = buf.readUInt16BE(2)
  if (port === 0) return parseFail('garbage', 'PORT2_RESP names port 0')
  return parsed({
    found: true,
    node: {
      name: buf.subarray(12, elenAt).toString('utf8'),
      port,
      nodeType: buf[4],
      protocol: buf[5],
      highestVersion: buf.readUInt16BE(6),
      lowestVersion: buf.readUInt16BE(8),
      extra: Buffer.from(buf.subarray(elenAt + 2, elenAt + 2 + elen)),
    },
  })
}

/** The part of `app@Host-B` before the @: what epmd registers. */
export const aliveName = (nodeName: string) => nodeName.split('@')[0]
