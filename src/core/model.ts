// The mesh model: inventory + saved state (addresses, public keys) -> one typed description of the fleet.
import {Inventory, InventoryHost} from './inventory.js'
import {SshTarget, canonicalIp, parseSshTarget} from './names.js'

export interface MeshHost {
  name: string
  /** Public endpoint as written in the inventory (IP or DNS name). */
  endpoint: string
  /** The endpoint as an IP, or null for a DNS name. */
  endpointIp: string | null
  listenPort: number
  ipv4?: string
  ipv6?: string
  publicKey: string
  ssh: SshTarget
}

export interface Mesh {
  interface: string
  ipv4?: string
  ipv6?: string
  mtu?: number
  persistentKeepalive?: number
  /** Where private keys live (network.keys); with 'host' a host's publicKey is '' until apply collects it. */
  keys?: 'local' | 'host'
  beam: Inventory['beam']
  hosts: MeshHost[]
}

/**
 * Whether `p` is a peer in the wg config of the host named `hostName`: every other host whose public key is known
 * (with network.keys: host, not before `mesh apply` has collected it). The renderer and every count of a config's
 * peers (the checked strip before a syncconf) use this one rule.
 */
export const isPeerOf = (p: MeshHost, hostName: string): boolean => p.name !== hostName && p.publicKey !== ''

/** The peers in the wg config of the host named `hostName`, in mesh order. */
export const peersOf = (mesh: Mesh, hostName: string): MeshHost[] => mesh.hosts.filter((p) => isPeerOf(p, hostName))

export interface HostAssignment {
  ipv4?: string
  ipv6?: string
  publicKey: string
}

/** User and port stay undefined unless the inventory sets them, so ~/.ssh/config can supply them (then root, 22). */
export function sshTargetOf(host: InventoryHost, inv: Inventory): SshTarget {
  const parsed = host.ssh ? parseSshTarget(host.ssh)! : {host: host.endpoint}
  return {
    user: parsed.user ?? inv.ssh.user,
    host: parsed.host,
    port: parsed.port ?? inv.ssh.port,
  }
}

export function buildMesh(inv: Inventory, assignments: Map<string, HostAssignment>): Mesh {
  return {
    interface: inv.network.interface,
    ipv4: inv.network.ipv4,
    ipv6: inv.network.ipv6,
    mtu: inv.network.mtu,
    persistentKeepalive: inv.network.persistentKeepalive,
    keys: inv.network.keys,
    beam: inv.beam,
    hosts: inv.hosts.map((h) => {
      const a = assignments.get(h.name)
      if (!a) throw new Error(`no address/key assignment for ${h.name}`)
      return {
        name: h.name,
        endpoint: h.endpoint,
        endpointIp: canonicalIp(h.endpoint),
        listenPort: h.listenPort ?? inv.network.listenPort,
        ipv4: a.ipv4,
        ipv6: a.ipv6,
        publicKey: a.publicKey,
        ssh: sshTargetOf(h, inv),
      }
    }),
  }
}

/** The name peers use for this host's public side: resolved through the hosts block. */
export const wgAlias = (name: string) => `${name}-wg`

/** What goes after `Endpoint =`: the -wg alias (hosts block maps it) or the DNS name; never the hostname. */
export function endpointFor(host: MeshHost): string {
  const where = host.endpointIp ? wgAlias(host.name) : host.endpoint
  return `${where}:${host.listenPort}`
}

export function prefixLen(cidr: string): number {
  return Number(cidr.split('/')[1])
}

export const findHost = (mesh: Mesh, name: string) => mesh.hosts.find((h) => h.name === name)
