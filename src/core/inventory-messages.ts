// How inventory problems are reported: a readable path (naming the host) and a concrete fix per field.
import {HOST_LABEL} from './names.js'

/** How each field is fixed, by the last key of its path. */
export const FIXES: Record<string, string> = {
  name: 'use the host\'s short hostname exactly as `hostname` prints it, e.g. Host-A',
  endpoint: 'give the public IP address (or DNS name) that peers reach this host on, e.g. 203.0.113.10',
  ssh: 'write the SSH target as user@host[:port], e.g. root@203.0.113.10:22',
  address: 'pin an unused IPv4 address inside network.ipv4, or remove the field to allocate one',
  address6: 'pin an unused IPv6 address inside network.ipv6, or remove the field to allocate one',
  ipv4: 'use a private IPv4 CIDR such as 10.77.0.0/24',
  ipv6: 'use a unique-local IPv6 CIDR such as fd77:77::/64',
  interface: 'use a short interface name such as wg0',
  hosts: 'list at least one host under hosts:',
  listenPort: 'use a UDP port number from 1 to 65535, e.g. 51820',
  port: 'use a TCP port number from 1 to 65535, e.g. 22',
  mtu: 'use an MTU from 1280 to 9000, or remove it to let wg-quick choose',
  persistentKeepalive: 'use seconds from 0 to 65535 (25 behind NAT), or remove it',
  nodeBasename: 'use a node name such as app',
  naming: 'use sname or name',
  distPortMin: 'use a port from 1024 to 65535, e.g. 9100',
  distPortMax: 'use a port from 1024 to 65535, e.g. 9105',
  user: 'use a Unix user name such as root or deploy',
  network: 'add a network: mapping with ipv4: (e.g. 10.77.0.0/24) and/or ipv6:',
  beam: 'make beam: a mapping (see the inventory reference in the README), or remove it for the defaults',
  presharedKeys: 'use true or false (YAML 1.2: yes/no are strings)',
  keys: 'use local (keys made in the state dir) or host (each host makes and keeps its own private key)',
  epmd: 'use true or false',
  allowPublicRange: 'use true (only for a public range you own) or false',
  firewall: 'use true or false',
  releaseRoot: 'give the release folder on the hosts as an absolute path (the one holding erts-*/bin/erl), e.g. /opt/app',
}

export function fixFor(path: (string | number)[], message: string): string {
  const last = [...path].reverse().find((p): p is string => typeof p === 'string')
  if (message.startsWith('unknown key')) return 'remove the key or fix its spelling (see the inventory reference in the README)'
  // hosts[3] itself is wrong (not a mapping): the fix is about the entry, not the list.
  if (path.length === 2 && path[0] === 'hosts' && typeof path[1] === 'number') return 'write each host as a mapping with name: and endpoint:'
  return (last && FIXES[last]) ?? 'correct the value as described (see the inventory reference in the README)'
}

export const fmtPath = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)'

/** Names the host in a path like hosts[1].endpoint, so the message says which host. */
export function describePath(path: readonly PropertyKey[], raw: unknown): string {
  const base = fmtPath(path)
  if (path[0] === 'hosts' && typeof path[1] === 'number') {
    const host = (raw as {hosts?: {name?: unknown}[]})?.hosts?.[path[1]]
    if (host && typeof host.name === 'string' && HOST_LABEL.test(host.name)) return `${base} (host ${host.name})`
  }
  return base
}
