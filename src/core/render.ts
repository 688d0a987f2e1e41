// Rendering of per-host files from the mesh model. No I/O beyond the template loader.
import {renderTemplate} from '../templates/index.js'
import {Mesh, MeshHost, endpointFor, prefixLen, wgAlias} from './model.js'

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
  const peers = mesh.hosts
    .filter((p) => p.name !== host.name)
    .map((p) => ({
      name: p.name,
      publicKey: p.publicKey,
      presharedKey: secrets.presharedKeys?.get(p.name),
      endpoint: endpointFor(p),
      allowedIps: allowedIpsOf(p),
    }))
  return renderTemplate('wg-quick.conf.ejs', {
    host,
    addresses: interfaceAddresses(mesh, host),
    privateKey,
    mtu: mesh.mtu,
    persistentKeepalive: mesh.persistentKeepalive,
    peers,
  })
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
