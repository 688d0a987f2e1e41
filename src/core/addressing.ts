// Stable WireGuard address allocation. Pure: previous assignments come in, new ones go out.
// Rules, in order: a pinned address wins; a host keeps the address it had; a new host gets the
// lowest free address, avoiding the addresses of archived (removed) hosts while others are free.
import ipaddr from 'ipaddr.js'

import {FieldIssue} from './errors.js'

export type Family = 'ipv4' | 'ipv6'

export interface AddressRequest {
  name: string
  /** The inventory's pinned address for this family, if any. */
  pinned?: string
  /** The address this host had in the saved state, if any. */
  previous?: string
}

export interface AllocationResult {
  /** host name -> canonical address string */
  assigned: Map<string, string>
  /** Hosts whose previous address had to change (a pin took it, or the CIDR changed). */
  moved: {name: string; from: string; to: string; why: string}[]
}

interface Pool {
  family: Family
  base: bigint
  /** first and last usable offsets */
  first: bigint
  last: bigint
  bits: number
}

const BITS: Record<Family, number> = {ipv4: 32, ipv6: 128}

function toBig(addr: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return addr.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n)
}

function fromBig(value: bigint, family: Family): string {
  const bytes: number[] = []
  for (let i = 0; i < BITS[family] / 8; i++) {
    bytes.unshift(Number(value & 0xffn))
    value >>= 8n
  }
  return ipaddr.fromByteArray(bytes).toString()
}

export function poolFor(cidr: string, family: Family): Pool {
  const [addr, prefix] = ipaddr.parseCIDR(cidr)
  const bits = BITS[family]
  const size = 1n << BigInt(bits - prefix)
  const mask = ~(size - 1n) & ((1n << BigInt(bits)) - 1n)
  const base = toBig(addr) & mask
  // IPv4: skip the network and broadcast addresses. IPv6: skip the subnet-router anycast (::0).
  const last = family === 'ipv4' ? size - 2n : size - 1n
  return {family, base, first: 1n, last, bits: prefix}
}

export function poolCapacity(pool: Pool): bigint {
  return pool.last >= pool.first ? pool.last - pool.first + 1n : 0n
}

/** Offset of addr inside the pool, or null when it is outside or not usable. */
export function offsetInPool(pool: Pool, address: string): bigint | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6
  try {
    parsed = ipaddr.parse(address)
  } catch {
    return null
  }
  if (parsed.kind() !== pool.family) return null
  const off = toBig(parsed) - pool.base
  return off >= pool.first && off <= pool.last ? off : null
}

export const addressAt = (pool: Pool, offset: bigint) => fromBig(pool.base + offset, pool.family)

/** Validate pins and capacity: returns problems naming inventory fields (empty when fine). */
export function checkAllocation(cidr: string, family: Family, requests: AddressRequest[], field: string): FieldIssue[] {
  const pool = poolFor(cidr, family)
  const issues: FieldIssue[] = []
  const netField = family === 'ipv4' ? 'network.ipv4' : 'network.ipv6'
  if (poolCapacity(pool) < BigInt(requests.length)) {
    issues.push({
      path: netField,
      message: `${cidr} has room for ${poolCapacity(pool)} hosts but the inventory lists ${requests.length}`,
      fix: `use a larger network, e.g. /${family === 'ipv4' ? Math.max(8, 32 - Math.ceil(Math.log2(requests.length + 2))) : 64}`,
    })
  }
  const pinnedBy = new Map<bigint, string>()
  requests.forEach((r, i) => {
    if (!r.pinned) return
    const off = offsetInPool(pool, r.pinned)
    if (off === null) {
      issues.push({
        path: `hosts[${i}].${field} (host ${r.name})`,
        message: `${r.pinned} is not a usable address in ${cidr}`,
        fix: `pick an address inside ${cidr} other than the network${family === 'ipv4' ? ' and broadcast' : ''} address`,
      })
    } else if (pinnedBy.has(off)) {
      issues.push({
        path: `hosts[${i}].${field} (host ${r.name})`,
        message: `${r.pinned} is also pinned by host ${pinnedBy.get(off)}`,
        fix: 'give every host its own address',
      })
    } else pinnedBy.set(off, r.name)
  })
  return issues
}

/** Allocate addresses. Call checkAllocation first: this assumes pins are valid and unique. */
export function allocate(cidr: string, family: Family, requests: AddressRequest[], archived: string[] = []): AllocationResult {
  const pool = poolFor(cidr, family)
  const taken = new Set<bigint>()
  const assigned = new Map<string, string>()
  const moved: AllocationResult['moved'] = []

  for (const r of requests) {
    if (!r.pinned) continue
    const off = offsetInPool(pool, r.pinned)!
    taken.add(off)
    assigned.set(r.name, addressAt(pool, off))
  }
  for (const r of requests) {
    if (r.pinned || !r.previous) continue
    const off = offsetInPool(pool, r.previous)
    if (off !== null && !taken.has(off)) {
      taken.add(off)
      assigned.set(r.name, addressAt(pool, off))
    }
  }
  const avoid = new Set<bigint>()
  for (const a of archived) {
    const off = offsetInPool(pool, a)
    if (off !== null) avoid.add(off)
  }
  // Dense allocation keeps this linear: a cursor walks upwards once for all new hosts, and any scan
  // ends after at most |taken| + |avoid| + 1 steps, even in a /64.
  let cursor = pool.first
  const nextFree = (skipArchived: boolean): bigint | null => {
    for (let off = skipArchived ? cursor : pool.first; off <= pool.last; off++) {
      if (!taken.has(off) && !(skipArchived && avoid.has(off))) {
        if (skipArchived) cursor = off + 1n
        return off
      }
    }
    return null
  }
  for (const r of requests) {
    if (assigned.has(r.name)) continue
    const off = nextFree(true) ?? nextFree(false)
    if (off === null) throw new Error(`address pool ${cidr} exhausted (checkAllocation should have caught this)`)
    taken.add(off)
    const addr = addressAt(pool, off)
    assigned.set(r.name, addr)
    if (r.previous) {
      moved.push({
        name: r.name,
        from: r.previous,
        to: addr,
        why: offsetInPool(pool, r.previous) === null ? `the old address is outside ${cidr}` : 'a pinned address took it',
      })
    }
  }
  return {assigned, moved}
}
