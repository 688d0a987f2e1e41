// Shadowing lines: /etc/hosts lines outside our block that map a mesh name (a host's name or its
// <name>-wg alias) to another address. glibc with `multi on` (Debian's /etc/host.conf), getaddrinfo's
// sorted answer list and Erlang's inet:getaddr would hand those addresses out beside (or before) the
// tunnel address, wherever the block sits. So the block alone cannot win: apply neutralizes exactly the
// conflicting names, and records each original line in the line itself so teardown restores its bytes.
// Pure: text in, text out.
import ipaddr from 'ipaddr.js'

import {Mesh, wgAlias} from './model.js'

/** Lower-case mesh name -> the canonical addresses the block gives it. Names the block does not map are absent. */
export type MeshNames = Map<string, Set<string>>

export interface ShadowLine {
  /** 1-based line number in the text it was found in. */
  line: number
  /** The line's bytes, without its line ending. */
  text: string
  /** Its address, as written. */
  address: string
  /** The mesh names it maps to that address, as written. */
  names: string[]
  /** The line as apply leaves it: commented out, or without those names (the original kept after the marker). */
  after: string
}

/** The comment that turns a line off; everything after it is the original line, byte for byte. */
export const neutralMark = (iface: string) => `# beam-mesh ${iface} was: `
const ANY_MARK = /# beam-mesh (\S+) was: /
const BEGIN = '# BEGIN beam-mesh '
const END = '# END beam-mesh '

/** How a resolver reads the address field; null when it does not (glibc and Erlang skip such lines). */
export function canonicalHostsAddress(text: string): string | null {
  const known = canonical.get(text)
  if (known !== undefined) return known
  let value: string | null
  try {
    value = ipaddr.process(text.replace(/%[\w.-]+$/, '')).toString()
  } catch {
    value = null
  }
  // Bounded: a fleet's addresses fit many times over; a flood of distinct text only restarts the memo.
  if (canonical.size >= CANONICAL_MEMO_SIZE) canonical.clear()
  canonical.set(text, value)
  return value
}

/**
 * Doctor reads the same few addresses thousands of times (every host's getent answers repeat each address three
 * times, for every mesh name), and ipaddr.js parses an address with regular expressions: a 16-host doctor spent
 * half a second of CPU here before the memo, on a machine whose two cores the hosts' Erlang VMs were using too.
 */
const canonical = new Map<string, string | null>()
const CANONICAL_MEMO_SIZE = 8192

export function meshNames(mesh: Mesh): MeshNames {
  const out: MeshNames = new Map()
  const set = (xs: (string | null | undefined)[]) => new Set(xs.map((x) => (x ? canonicalHostsAddress(x) : null)).filter((x): x is string => x !== null))
  for (const h of mesh.hosts) {
    out.set(h.name.toLowerCase(), set([h.ipv4, h.ipv6]))
    // A DNS endpoint has no -wg line in the block: nothing resolves that alias, so nothing can shadow it.
    if (h.endpointIp) out.set(wgAlias(h.name).toLowerCase(), set([h.endpointIp]))
  }
  return out
}

interface Line {
  /** Without the line ending. */
  body: string
  cr: string
  /** Inside some beam-mesh block (markers included), and that block's BEGIN line. */
  block: string | null
}

function linesOf(content: string): Line[] {
  let block: string | null = null
  return content.split('\n').map((raw) => {
    const cr = raw.endsWith('\r') ? '\r' : ''
    const body = cr ? raw.slice(0, -1) : raw
    if (body.startsWith(BEGIN)) block = body
    const line = {body, cr, block}
    if (body.startsWith(END)) block = null
    return line
  })
}

/** The conflicting names of one line and the line without them; null when it maps no mesh name elsewhere. */
function shadowOf(body: string, names: MeshNames, iface: string): Omit<ShadowLine, 'line'> | null {
  const hash = body.indexOf('#')
  const tokens = [...(hash < 0 ? body : body.slice(0, hash)).matchAll(/(\s*)(\S+)/g)]
  if (tokens.length < 2) return null
  const address = canonicalHostsAddress(tokens[0][2])
  if (address === null) return null
  const bad = tokens.slice(1).filter((t) => names.get(t[2].toLowerCase())?.has(address) === false)
  if (!bad.length) return null
  const keep = tokens.slice(1).filter((t) => !bad.includes(t))
  const mark = `${neutralMark(iface)}${body}`
  const after = keep.length ? `${tokens[0][1]}${tokens[0][2]}${keep.map((t) => t[1] + t[2]).join('')}\t${mark}` : mark
  return {text: body, address: tokens[0][2], names: bad.map((t) => t[2]), after}
}

/**
 * Lines that map a mesh name elsewhere. Lines inside beam-mesh blocks are skipped: our own is the truth, and
 * another mesh's block is that mesh's to rewrite (with `otherBlocks`, the doctor still names them as culprits).
 */
export function findShadows(content: string, names: MeshNames, iface: string, opts: {otherBlocks?: boolean} = {}): ShadowLine[] {
  const own = `${BEGIN}${iface}`
  const out: ShadowLine[] = []
  linesOf(content).forEach((l, i) => {
    if (l.block !== null && (l.block === own || !opts.otherBlocks)) return
    const s = shadowOf(l.body, names, iface)
    if (s) out.push({line: i + 1, ...s})
  })
  return out
}

/** The file with every shadowing line neutralized (outside beam-mesh blocks), and the lines that were. */
export function neutralizeShadows(content: string, names: MeshNames, iface: string): {content: string; lines: ShadowLine[]} {
  const lines: ShadowLine[] = []
  const text = linesOf(content)
    .map((l, i) => {
      const s = l.block === null ? shadowOf(l.body, names, iface) : null
      if (!s) return l.body + l.cr
      lines.push({line: i + 1, ...s})
      return s.after + l.cr
    })
    .join('\n')
  return {content: text, lines}
}

/**
 * Every line this interface neutralized, back to its original bytes; also lines another interface neutralized
 * whose block is gone from the file (its mesh was torn down without restoring them). Returns the originals.
 */
export function restoreShadows(content: string, iface: string): {content: string; restored: string[]} {
  const lines = linesOf(content)
  const blocks = new Set(lines.filter((l) => l.body.startsWith(BEGIN)).map((l) => l.body.slice(BEGIN.length)))
  const restored: string[] = []
  const text = lines
    .map((l) => {
      const m = l.block === null ? ANY_MARK.exec(l.body) : null
      if (!m || (m[1] !== iface && blocks.has(m[1]))) return l.body + l.cr
      const original = l.body.slice(m.index + m[0].length)
      restored.push(original)
      return original + l.cr
    })
    .join('\n')
  return {content: text, restored}
}
