// What addresses mean, not just how they are spelled: a mesh network must be a range of ordinary host
// addresses that the mesh may own, and an endpoint must be an address a peer can actually send to.
// Without these checks `ipv4: 0.0.0.0/0` put a default route on the interface (`inet 0.0.0.1/0`) and an
// endpoint of 127.0.0.1 or ff02::1 sent every handshake to the wrong place. Pure: no I/O.
import ipaddr from 'ipaddr.js'

import {FieldIssue} from './errors.js'

/** The part of a schema-valid inventory these checks read (structural: inventory.ts calls in, not the reverse). */
export interface AddressedInventory {
  network: {ipv4?: string; ipv6?: string; allowPublicRange: boolean}
  hosts: readonly {name: string; endpoint: string}[]
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6
type Family = 'ipv4' | 'ipv6'

/**
 * The widest mesh network accepted. A /8 (IPv4) is already all of 10.0.0.0/8; a /32 (IPv6) is a whole
 * provider's allocation. Anything wider takes routes that belong to other networks (the LAN, a VPN, the
 * internet): traffic for them would go into the tunnel.
 */
export const MIN_PREFIX: Record<Family, number> = {ipv4: 8, ipv6: 32}

/** Ranges no mesh network may touch: the traffic there is not to ordinary hosts. */
const FORBIDDEN: Record<Family, [string, string][]> = {
  ipv4: [
    ['0.0.0.0/8', 'unspecified ("this network")'],
    ['127.0.0.0/8', 'loopback'],
    ['169.254.0.0/16', 'link-local'],
    ['224.0.0.0/4', 'multicast'],
    ['255.255.255.255/32', 'broadcast'],
  ],
  ipv6: [
    ['::/128', 'unspecified'],
    ['::1/128', 'loopback'],
    ['fe80::/10', 'link-local'],
    ['ff00::/8', 'multicast'],
  ],
}

/** Ranges meant for networks like this one: a mesh inside them needs no override. */
const PRIVATE: Record<Family, string[]> = {
  ipv4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'],
  ipv6: ['fc00::/7'],
}

const SUGGEST: Record<Family, string> = {ipv4: '10.77.0.0/24', ipv6: 'fd77:77::/64'}

const cidrOf = (s: string): [Addr, number] => ipaddr.parseCIDR(s)
const contains = (outer: [Addr, number], inner: [Addr, number]) => inner[0].kind() === outer[0].kind() && inner[1] >= outer[1] && inner[0].match(outer)
const overlaps = (a: [Addr, number], b: [Addr, number]) => contains(a, b) || contains(b, a)

/** Why a mesh network is unusable, or null. allowPublic: the operator owns a public range and said so. */
export function networkProblem(cidr: string, family: Family, allowPublic: boolean): {message: string; fix: string} | null {
  const net = cidrOf(cidr)
  if (net[1] === 0) return {message: 'is the default route (every address)', fix: `use a private range, e.g. ${SUGGEST[family]}`}
  const bad = FORBIDDEN[family].find(([range]) => overlaps(net, cidrOf(range)))
  if (bad) return {message: `is or covers the ${bad[1]} range ${bad[0]}, which is not for host addresses`, fix: `use a private range, e.g. ${SUGGEST[family]}`}
  if (net[1] < MIN_PREFIX[family]) {
    return {
      message: `is a /${net[1]}: wider than /${MIN_PREFIX[family]}, it would take over routes of other networks`,
      fix: `use a narrower network (/${MIN_PREFIX[family]} or longer), e.g. ${SUGGEST[family]}`,
    }
  }
  if (!allowPublic && !PRIVATE[family].some((p) => contains(cidrOf(p), net))) {
    return {
      message: `is a public range (not inside ${PRIVATE[family].join(', ')})`,
      fix: `use a private range, e.g. ${SUGGEST[family]}; if you own this range, set network.allowPublicRange: true`,
    }
  }
  return null
}

/** Why an endpoint IP cannot be sent to, or null. DNS names are not resolved here (pure code). */
export function endpointProblem(ip: string, networks: string[]): {message: string; fix: string} | null {
  if (!ipaddr.isValid(ip)) return null
  const addr = ipaddr.parse(ip)
  const range = addr.range()
  const what: Record<string, string> = {unspecified: 'the unspecified address', loopback: 'a loopback address', broadcast: 'the broadcast address', multicast: 'a multicast address'}
  if (what[range]) return {message: `is ${what[range]}, which no peer can send to`, fix: 'use the host\'s public (or LAN) unicast address, or a DNS name'}
  const inside = networks.find((n) => contains(cidrOf(n), [addr, addr.kind() === 'ipv4' ? 32 : 128]))
  if (inside) {
    return {
      message: `is inside the mesh network ${inside}: the tunnel would be routed through itself`,
      fix: 'use the address the host has outside the mesh, or move the mesh network',
    }
  }
  return null
}

/** Every address problem of a schema-valid inventory, one issue per field. */
export function addressIssues(inv: AddressedInventory): FieldIssue[] {
  const issues: FieldIssue[] = []
  const networks: string[] = []
  for (const family of ['ipv4', 'ipv6'] as const) {
    const cidr = inv.network[family]
    if (!cidr) continue
    const p = networkProblem(cidr, family, inv.network.allowPublicRange)
    if (p) issues.push({path: `network.${family}`, ...p})
    else networks.push(cidr)
  }
  inv.hosts.forEach((h, i) => {
    const p = endpointProblem(h.endpoint, networks)
    if (p) issues.push({path: `hosts[${i}].endpoint (host ${h.name})`, ...p})
  })
  return issues
}
