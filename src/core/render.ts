// Rendering of per-host files from the mesh model. No I/O beyond the template loader.
import {renderTemplate} from '../templates/index.js'
import {ByteBuilder} from './bytes.js'
import {Mesh, MeshHost, endpointFor, isPeerOf, peersOf, prefixLen, wgAlias} from './model.js'

export interface PeerSecrets {
  /** Preshared key for the pair (this host, peer), by peer name. */
  presharedKeys?: Map<string, string>
}

export function allowedIpsOf(host: MeshHost): string[] {
  return [host.ipv4 && `${host.ipv4}/32`, host.ipv6 && `${host.ipv6}/128`].filter(Boolean) as string[]
}

export function interfaceAddresses(mesh: Mesh, host: MeshHost): string[] {
  return [
    host.ipv4 && mesh.ipv4 && `${host.ipv4}/${prefixLen(mesh.ipv4)}`,
    host.ipv6 && mesh.ipv6 && `${host.ipv6}/${prefixLen(mesh.ipv6)}`,
  ].filter(Boolean) as string[]
}

/** A wg-quick config for one host: every other host is a peer. Contains the private key. */
export function renderWgConfig(mesh: Mesh, host: MeshHost, privateKey: string, secrets: PeerSecrets = {}): string {
  return wgConfigRenderer(mesh).text(host, privateKey, secrets)
}

export interface WgConfigRenderer {
  text(host: MeshHost, privateKey: string, secrets?: PeerSecrets): string
  /** The same config as bytes, appended to a reused builder (a fleet's configs without a fresh buffer each). */
  into(out: ByteBuilder, host: MeshHost, privateKey: string, secrets?: PeerSecrets): void
}

/**
 * Renders configs for many hosts of one mesh. Each peer's section is the same in every config but its
 * own (PresharedKey aside), so it is rendered once and joined per host: a fleet of N hosts costs N small
 * renders and N joins instead of N^2 renders, and only the config being written is held in memory.
 */
export function wgConfigRenderer(mesh: Mesh): WgConfigRenderer {
  const section = (p: MeshHost, presharedKey?: string) =>
    renderTemplate('wg-peer.ejs', {
      peer: {name: p.name, publicKey: p.publicKey, presharedKey, endpoint: endpointFor(p), allowedIps: allowedIpsOf(p)},
      persistentKeepalive: mesh.persistentKeepalive,
    })
  const head = (host: MeshHost, privateKey: string) =>
    renderTemplate('wg-quick.conf.ejs', {host, addresses: interfaceAddresses(mesh, host), privateKey, mtu: mesh.mtu})
  // A preshared key differs per pair: those sections are rendered per host (PSK meshes hold N^2 key files anyway).
  const sections = (host: MeshHost, psks: Map<string, string>) => peersOf(mesh, host.name).map((p) => section(p, psks.get(p.name)))
  let texts: string[] | undefined
  let bytes: Buffer[] | undefined
  // Flattened once: ejs builds its output by concatenation (a rope), which every join would walk again.
  const shared = () => (texts ??= mesh.hosts.map((p) => Buffer.from(section(p)).toString()))
  const others = <T>(all: T[], host: MeshHost) => all.filter((_, i) => isPeerOf(mesh.hosts[i], host.name))
  return {
    text(host, privateKey, secrets = {}) {
      const psks = secrets.presharedKeys
      return [head(host, privateKey), ...(psks?.size ? sections(host, psks) : others(shared(), host))].join('')
    },
    into(out, host, privateKey, secrets = {}) {
      out.append(head(host, privateKey))
      const psks = secrets.presharedKeys
      if (psks?.size) for (const s of sections(host, psks)) out.append(s)
      else for (const b of others((bytes ??= shared().map((t) => Buffer.from(t))), host)) out.append(b)
    },
  }
}

export const hostsMarkers = (iface: string) => ({
  begin: `# BEGIN beam-mesh ${iface}`,
  end: `# END beam-mesh ${iface}`,
})

/** The managed /etc/hosts block, the same on every host. Ends with a newline. */
export function renderHostsBlock(mesh: Mesh): string {
  return renderTemplate('hosts-block.ejs', {
    ...hostsMarkers(mesh.interface),
    hosts: mesh.hosts.map((h) => ({
      name: h.name,
      alias: wgAlias(h.name),
      endpoint: h.endpoint,
      endpointIp: h.endpointIp,
      meshIps: [h.ipv4, h.ipv6].filter(Boolean),
    })),
  })
}
