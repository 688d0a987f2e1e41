// Names and addresses as they appear in an inventory: hostnames, endpoints, SSH targets. Pure.
import ipaddr from 'ipaddr.js'

/** A single DNS label: what `hostname -s` prints and what Erlang's -sname accepts. */
export const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?$/
const DNS_SHAPE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

/** Four decimal parts of 0-255 without leading zeros: what ipaddr.js's isValid && isValidFourPartDecimal accept. */
const DOTTED_QUAD = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/**
 * An IPv4 address in dotted-quad form or an IPv6 address. IPv4 is one regular expression: ipaddr.js's own check
 * took 170 ms of a 1000-host init that changes nothing (the state and the inventory check every address).
 */
export const isIp = (s: string) => (s.includes(':') ? ipaddr.isValid(s) : DOTTED_QUAD.test(s))

/**
 * A DNS name. The last label must not be all digits (RFC 3696 §2): otherwise a mistyped address
 * such as 999.1.1.1 or 10.0.0 would pass as a "name" and fail only on the hosts.
 */
export const isDnsName = (s: string) => DNS_SHAPE.test(s) && !/^\d+$/.test(s.split('.').pop()!)

export function canonicalIp(s: string): string | null {
  if (!isIp(s)) return null
  return ipaddr.parse(s).toString()
}

export interface SshTarget {
  user?: string
  host: string
  port?: number
}

/** user@host[:port], user@[v6]:port, host. Returns null when malformed. */
export function parseSshTarget(s: string): SshTarget | null {
  const m = /^(?:([a-z_][a-z0-9_.-]{0,31})@)?(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*))(?::(\d{1,5}))?$/.exec(s)
  if (!m) {
    // A bare IPv6 address without port and without brackets.
    const bare = /^(?:([a-z_][a-z0-9_.-]{0,31})@)?([0-9A-Fa-f:]+)$/.exec(s)
    if (bare && ipaddr.IPv6.isValid(bare[2])) return {user: bare[1], host: bare[2]}
    return null
  }
  const host = m[2] ?? m[3]
  if (m[2] && !ipaddr.IPv6.isValid(m[2])) return null
  if (!m[2] && !(isIp(host) || isDnsName(host))) return null
  const port = m[4] ? Number(m[4]) : undefined
  if (port !== undefined && (port < 1 || port > 65535)) return null
  return {user: m[1], host, port}
}
