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
    else if (/^\[peer\]$/i.test(line)) peers.push((section = new Map()))
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

const normalizeList = (v?: string) =>
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
