// A small parser for wg-quick configs, enough to tell what kind of change a new config is.
export interface WgQuickConfig {
  /** [Interface] keys in file order, lower-cased names -> values (repeated keys joined with ", "). */
  iface: Map<string, string>
  peers: Map<string, string>[]
}

export function parseWgQuick(text: string): WgQuickConfig {
  const iface = new Map<string, string>()
  const peers: Map<string, string>[] = []
  let section: Map<string, string> | null = null
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) continue
    if (/^\[interface\]$/i.test(line)) section = iface
    else if (/^\[peer\]$/i.test(line)) peers.push((section = new Map<string, string>()))
    else if (section) {
      const eq = line.indexOf('=')
      if (eq < 0) continue
      const key = line.slice(0, eq).trim().toLowerCase()
      const value = line.slice(eq + 1).trim()
      section.set(key, section.has(key) ? `${section.get(key)}, ${value}` : value)
    }
  }
  return {iface, peers}
}

/** Keys wg syncconf applies itself; any other [Interface] change needs wg-quick down/up. */
const SYNCABLE_IFACE_KEYS = new Set(['privatekey', 'listenport', 'fwmark'])

export type WgChange = 'none' | 'peers' | 'interface'

/** Compare two configs: 'peers' can be applied hitlessly with syncconf, 'interface' cannot. */
export function classifyWgChange(current: string | null, desired: string): WgChange {
  if (current === desired) return 'none'
  if (current === null) return 'interface'
  const a = parseWgQuick(current)
  const b = parseWgQuick(desired)
  const keys = new Set([...a.iface.keys(), ...b.iface.keys()])
  for (const k of keys) {
    if (SYNCABLE_IFACE_KEYS.has(k)) continue
    if (normalizeList(a.iface.get(k)) !== normalizeList(b.iface.get(k))) return 'interface'
  }
  return 'peers'
}

/** A comma-separated list in a canonical order, so `a, b` equals `b,a`. */
export const normalizeList = (v?: string) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort()
    .join(',')

/** Names of the [Interface] keys that differ (for the plan: "Address, MTU"). */
export function changedInterfaceKeys(current: string, desired: string): string[] {
  const a = parseWgQuick(current).iface
  const b = parseWgQuick(desired).iface
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => normalizeList(a.get(k)) !== normalizeList(b.get(k)))
}

/** Public keys of the peers in a config, for a peer-level summary (+added / -removed). */
export function peerKeys(text: string): string[] {
  return parseWgQuick(text)
    .peers.map((p) => p.get('publickey'))
    .filter(Boolean) as string[]
}

/** Hide secrets before a config is shown in a diff. */
export function redactSecrets(text: string): string {
  return text.replace(/^(\s*(?:PrivateKey|PresharedKey)\s*=\s*).*$/gim, '$1(secret)')
}

/**
 * Public key -> name for each [Peer] of a config we rendered (the "# <name>" comment just above it);
 * a peer without such a comment is named by the start of its public key (public keys are not secret).
 */
export function peerNames(text: string): Map<string, string> {
  const out = new Map<string, string>()
  const lines = text.split('\n').map((l) => l.trim())
  let name: string | null = null
  let inPeer = false
  lines.forEach((line, i) => {
    if (/^\[peer\]$/i.test(line)) {
      const prev = lines[i - 1] ?? ''
      name = prev.startsWith('#') ? prev.slice(1).trim() : null
      inPeer = true
    } else if (/^\[/.test(line)) inPeer = false
    const m = inPeer ? /^publickey\s*=\s*(\S+)$/i.exec(line) : null
    if (m) out.set(m[1], name || `key ${m[1].slice(0, 8)}…`)
  })
  return out
}
