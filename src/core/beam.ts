// BEAM artifacts from the mesh model: libcluster topology, release env.sh, vm.args, the cookie file
// and an opt-in tunnel-only firewall. Pure: randomness is injected, templates are the only reads.
import {randomBytes} from 'node:crypto'

import ipaddr from 'ipaddr.js'

import {renderTemplate} from '../templates/index.js'
import {beamPaths, firewallHooks, nftTable} from './beam-paths.js'
import {DesiredFile} from './desired.js'
import {Mesh, MeshHost} from './model.js'

/**
 * libcluster's Epmd strategy connects once at start when :timeout is absent (:infinity); with an
 * integer it re-runs the connect every <timeout> ms, so late or restarted nodes are joined.
 */
export const LIBCLUSTER_RETRY_MS = 30_000

export const EPMD_PORT = 4369

// ---- cookie ---------------------------------------------------------------------------------

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const ALNUM = `${LETTERS}0123456789`
/** 1 letter + 47 alphanumerics = about 285 bits, above the 256 of 32 random bytes. */
export const COOKIE_LENGTH = 48

/**
 * A cookie of letters and digits only: safe as an unquoted Erlang atom, in a shell variable and in
 * vm.args. Rejection sampling keeps every character uniform (no modulo bias).
 */
export function makeCookie(random: (n: number) => Uint8Array = randomBytes): string {
  let out = ''
  while (out.length < COOKIE_LENGTH) {
    for (const b of random(64)) {
      const alphabet = out.length === 0 ? LETTERS : ALNUM
      // Largest multiple of the alphabet size below 256: bytes above it would bias the low characters.
      const limit = 256 - (256 % alphabet.length)
      if (b >= limit) continue
      out += alphabet[b % alphabet.length]
      if (out.length === COOKIE_LENGTH) break
    }
  }
  return out
}

/** What we accept from the cookie file: our own form, or an operator's long alphanumeric cookie. */
export const isCookie = (s: string) => /^[A-Za-z0-9]{32,255}$/.test(s)

// ---- naming and addresses -------------------------------------------------------------------

/** The node name peers dial; it must match the node's own name exactly (case-sensitive). */
export function nodeName(mesh: Mesh, host: MeshHost): string {
  if (mesh.beam.naming === 'name') {
    if (!host.ipv4) throw new Error(`naming: name needs an IPv4 address for ${host.name}`)
    return `${mesh.beam.nodeBasename}@${host.ipv4}`
  }
  return `${mesh.beam.nodeBasename}@${host.name}`
}

/** Distribution runs over IPv4 when the mesh has it (inet_tcp, the default), else over IPv6. */
export function distAddress(host: MeshHost): string {
  const ip = host.ipv4 ?? host.ipv6
  if (!ip) throw new Error(`${host.name} has no WireGuard address`)
  return ip
}

/** An address as the Erlang term inet_dist_use_interface expects: {10,77,0,1} or 8 decimal words. */
export function erlangIpTuple(ip: string): string {
  const addr = ipaddr.parse(ip)
  const parts = addr.kind() === 'ipv4' ? (addr as ipaddr.IPv4).octets : (addr as ipaddr.IPv6).parts
  return `{${parts.join(',')}}`
}

/** nft set of the ports distribution uses: EPMD (when used) and the listen range. */
export function distPortSet(beam: Mesh['beam']): string {
  const range = beam.distPortMin === beam.distPortMax ? `${beam.distPortMin}` : `${beam.distPortMin}-${beam.distPortMax}`
  return `{ ${beam.epmd ? `${EPMD_PORT}, ` : ''}${range} }`
}

/**
 * Extra erl flags for every release command but the node's own start (stop, restart, pid, rpc, remote,
 * eval): a short-lived hidden node that only dials out. It must not listen (without EPMD the one fixed
 * port belongs to the release), must dial that fixed port, and never starts an EPMD: with EPMD, the
 * node it dials has one running already; without, none is wanted.
 */
export function remoteErlFlags(beam: Mesh['beam']): string {
  return ['-dist_listen false', '-start_epmd false', ...(beam.epmd ? [] : [`-erl_epmd_port ${beam.distPortMin}`])].join(' ')
}

const header = (what: string) => `Managed by beam-mesh${what}: \`mesh apply\` overwrites changes made here.`

// ---- renderers ------------------------------------------------------------------------------

/** 30000 -> "30_000" (Elixir's digit separators). Not toLocaleString: its first call loads ICU, ~18 ms of every run. */
export function elixirInteger(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '_')
}

/** Elixir config (Config.Reader format), the same on every host: all nodes, self included. */
export function renderLibcluster(mesh: Mesh): string {
  return renderTemplate('libcluster.exs.ejs', {
    header: header(''),
    path: beamPaths(mesh.interface).libcluster,
    nodes: mesh.hosts.map((h) => nodeName(mesh, h)),
    timeout: elixirInteger(LIBCLUSTER_RETRY_MS),
  })
}

export function renderVmArgs(mesh: Mesh, host: MeshHost): string {
  const ip = distAddress(host)
  return renderTemplate('vm.args.ejs', {
    header: header(` for ${host.name}`),
    iface: mesh.interface,
    ipTuple: erlangIpTuple(ip),
    ipv6Only: !host.ipv4,
    beam: mesh.beam,
  })
}

export function renderEnvSh(mesh: Mesh, host: MeshHost): string {
  return renderTemplate('env.sh.ejs', {
    header: header(` for ${host.name}`),
    paths: beamPaths(mesh.interface),
    distribution: mesh.beam.naming,
    node: nodeName(mesh, host),
    epmd: mesh.beam.epmd,
    epmdAddresses: [host.ipv4, host.ipv6].filter(Boolean).join(','),
    remoteFlags: remoteErlFlags(mesh.beam),
  })
}

/** The tunnel-only firewall, the same on every host. Loaded with `nft -f`; replaces only its own table. */
export function renderFirewall(mesh: Mesh): string {
  return renderTemplate('firewall.nft.ejs', {
    header: header(''),
    path: beamPaths(mesh.interface).firewall,
    table: nftTable(mesh.interface),
    iface: mesh.interface,
    ports: distPortSet(mesh.beam),
    // Canonical network addresses: nft refuses host bits set outside the mask.
    v4: mesh.ipv4 && `${ipaddr.IPv4.networkAddressFromCIDR(mesh.ipv4).toString()}/${mesh.ipv4.split('/')[1]}`,
    v6: mesh.ipv6 && `${ipaddr.IPv6.networkAddressFromCIDR(mesh.ipv6).toString()}/${mesh.ipv6.split('/')[1]}`,
  })
}

// ---- desired files --------------------------------------------------------------------------

/**
 * The BEAM files of every host, for DesiredOptions.extraFiles. Mesh-wide files are rendered once.
 * The cookie file is 0600 root: env.sh reads it at start, so the cleartext lives only in that file.
 * With beam.user (the release's user) it is 0400 owned by that user instead; the rest stays root 0644.
 */
export function beamExtraFiles(mesh: Mesh, cookie: string): (host: MeshHost) => DesiredFile[] {
  if (!isCookie(cookie)) throw new Error('not a beam-mesh cookie (32-255 letters and digits)')
  const libcluster = renderLibcluster(mesh)
  const firewall = mesh.beam.firewall ? renderFirewall(mesh) : null
  const user = mesh.beam.user
  const paths = beamPaths(mesh.interface)
  const cookieFile: DesiredFile = user
    ? {path: paths.cookie, content: `${cookie}\n`, mode: 0o400, secret: true, owner: user}
    : {path: paths.cookie, content: `${cookie}\n`, mode: 0o600, secret: true}
  return (host) => [
    cookieFile,
    {path: paths.envSh, content: renderEnvSh(mesh, host), mode: 0o644, secret: false},
    {path: paths.vmArgs, content: renderVmArgs(mesh, host), mode: 0o644, secret: false},
    {path: paths.libcluster, content: libcluster, mode: 0o644, secret: false},
    // Loaded right after it changes; unloaded when retired (beam.firewall: false) or its create is rolled back.
    ...(firewall ? [{path: paths.firewall, content: firewall, mode: 0o644, secret: false, ...firewallHooks(paths.firewall, nftTable(mesh.interface))}] : []),
  ]
}
