// `wg show <if> dump` -> typed facts. Tab-separated (FACTS.md, "WireGuard"):
//   interface: private-key public-key listen-port fwmark
//   peer:      public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive
// The interface line carries the PRIVATE key: the parser reads past it and never copies it into
// the result, so nothing downstream (--json, logs, errors) can leak it. Error messages never
// quote the interface line for the same reason.
import {Parsed, parseFail, parsed, preview} from './parse.js'

export interface WgInterfaceFact {
  publicKey: string | null
  listenPort: number
  /** null = off */
  fwmark: number | null
}

export interface WgPeerFact {
  publicKey: string
  /** Only whether one is set: the key itself is a secret. */
  presharedKey: boolean
  /** `ip:port` / `[ip6]:port` as wg prints it, or null before the peer was ever heard from/configured. */
  endpoint: string | null
  allowedIps: string[]
  /** Epoch seconds of the last handshake; 0 = never. */
  latestHandshake: number
  rxBytes: number
  txBytes: number
  /** Persistent keepalive in seconds; null = off. */
  keepalive: number | null
}

export interface WgDump {
  interface: WgInterfaceFact
  peers: WgPeerFact[]
}

/** A 32-byte key in standard base64: what wg prints. */
const KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/
const NONE = '(none)'

const uint = (s: string) => (/^\d+$/.test(s) ? Number(s) : NaN)

function parseInterface(fields: string[]): Parsed<WgInterfaceFact> {
  if (fields.length !== 4) return parseFail('garbage', `interface line has ${fields.length} fields, expected 4 (content not shown: it holds the private key)`)
  const [, publicKey, port, fwmark] = fields
  if (publicKey !== NONE && !KEY.test(publicKey)) return parseFail('garbage', 'interface line: public key is not a WireGuard key')
  const listenPort = uint(port)
  if (!(listenPort >= 0 && listenPort <= 65535)) return parseFail('garbage', `interface line: listen port "${preview(port)}" is not a port`)
  // wg prints the fwmark as 0x<hex> or "off" (older versions: decimal).
  const mark = fwmark === 'off' ? null : /^0x[0-9a-f]+$/i.test(fwmark) ? parseInt(fwmark, 16) : uint(fwmark)
  if (mark !== null && Number.isNaN(mark)) return parseFail('garbage', `interface line: fwmark "${preview(fwmark)}" is not a number`)
  return parsed({publicKey: publicKey === NONE ? null : publicKey, listenPort, fwmark: mark === 0 ? null : mark})
}

function parsePeer(fields: string[], lineNo: number): Parsed<WgPeerFact> {
  const bad = (what: string) => parseFail<WgPeerFact>('garbage', `line ${lineNo}: ${what}`)
  if (fields.length !== 8) return bad(`peer line has ${fields.length} fields, expected 8`)
  const [publicKey, psk, endpoint, allowed, hs, rx, tx, keepalive] = fields
  if (!KEY.test(publicKey)) return bad(`"${preview(publicKey)}" is not a WireGuard public key`)
  const numbers = [hs, rx, tx].map(uint)
  if (numbers.some(Number.isNaN)) return bad('handshake/rx/tx must be unsigned integers')
  const ka = keepalive === 'off' ? null : uint(keepalive)
  if (ka !== null && Number.isNaN(ka)) return bad(`keepalive "${preview(keepalive)}" is neither "off" nor a number`)
  return parsed({
    publicKey,
    presharedKey: psk !== NONE,
    endpoint: endpoint === NONE ? null : endpoint,
    allowedIps: allowed === NONE ? [] : allowed.split(','),
    latestHandshake: numbers[0],
    rxBytes: numbers[1],
    txBytes: numbers[2],
    keepalive: ka === 0 ? null : ka,
  })
}

export function parseWgDump(stdout: string): Parsed<WgDump> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '')
  if (lines.length === 0) return parseFail('empty', 'wg show dump printed nothing (is the interface up?)')
  const iface = parseInterface(lines[0].split('\t'))
  if (!iface.ok) return iface
  const peers: WgPeerFact[] = []
  for (let i = 1; i < lines.length; i++) {
    const peer = parsePeer(lines[i].split('\t'), i + 1)
    if (!peer.ok) return peer
    peers.push(peer.value)
  }
  return parsed({interface: iface.value, peers})
}

/** Host part of a dump endpoint (`[fd00::1]:51820` -> `fd00::1`), for comparing with the inventory. */
export function endpointHost(endpoint: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(endpoint) ?? /^(.*):\d+$/.exec(endpoint)
  return m ? m[1] : endpoint
}

/** Seconds since the last handshake at `nowEpochS`, or null for never. Clock skew is clamped to 0. */
export function handshakeAge(peer: WgPeerFact, nowEpochS: number): number | null {
  return peer.latestHandshake === 0 ? null : Math.max(0, nowEpochS - peer.latestHandshake)
}

/** WireGuard drops a session key REJECT_AFTER_TIME after its handshake: older = no live session. */
export const REJECT_AFTER_TIME_S = 180
