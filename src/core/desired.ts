// The desired state of each host: the files we own on it and the /etc/hosts block. Pure.
import {MeshNames, meshNames} from './hosts-shadow.js'
import {Mesh, MeshHost} from './model.js'
import {PeerSecrets, renderHostsBlock, wgConfigRenderer} from './render.js'

/** A path beam-mesh may own on a host, whether or not it is desired right now. */
export interface ManagedPath {
  /** Absolute path on the host. */
  path: string
  /** Run (as root, argv) after this file changed, e.g. ['nft', '-f', path] to load a firewall table. */
  activate?: string[]
  /**
   * Run (as root, argv) to undo `activate` when the file is retired (no longer desired) or a create is
   * rolled back. Must succeed when there is nothing to undo.
   */
  deactivate?: string[]
  /**
   * Exits 0 when the activation is in effect (e.g. the nft table is loaded). Checked when the file itself
   * is unchanged, so a reboot that dropped the activation is repaired by the next apply.
   */
  isActive?: string[]
  /**
   * Owned only while that file's content contains that text (e.g. a legacy file shared by every mesh of
   * the host belongs to the one its vm.args names): otherwise never retired, whatever is desired.
   */
  ownedIf?: {path: string; contains: string}
}

/** Whether `m` is ours given the files read from the host (see ManagedPath.ownedIf). */
export function isOwned(m: ManagedPath, files: Map<string, string | null>): boolean {
  return !m.ownedIf || (files.get(m.ownedIf.path) ?? '').includes(m.ownedIf.contains)
}

export interface DesiredFile extends ManagedPath {
  content: string
  mode: number
  /** Holds a secret: never show its content in a diff or log. */
  secret: boolean
  /** Unix user that owns the file (group stays root); default root. */
  owner?: string
}

export interface HostDesired {
  host: MeshHost
  /** /etc/wireguard/<if>.conf */
  wgConfig: DesiredFile
  /** The marked block spliced into /etc/hosts. */
  hostsBlock: string
  /** The names the block maps and their addresses: other /etc/hosts lines must not map them elsewhere. */
  meshNames?: MeshNames
  /** Further files owned by beam-mesh on this host (firewall, BEAM artifacts). */
  extraFiles: DesiredFile[]
  /** Every path beam-mesh may own here besides the wg config: one present but not in extraFiles is retired. */
  managed: ManagedPath[]
}

export interface DesiredOptions {
  privateKeys: Map<string, string>
  /** host -> (peer -> preshared key) */
  presharedKeys?: Map<string, Map<string, string>>
  /** Extra per-host files, e.g. from the BEAM artifacts renderer. */
  extraFiles?: (host: MeshHost) => DesiredFile[]
  /** Paths beam-mesh may own besides the wg config (see HostDesired.managed). */
  managed?: ManagedPath[]
}

export const wgConfigPath = (iface: string) => `/etc/wireguard/${iface}.conf`

/** Every host's desired state at once: fine for a few hosts; a fleet goes through desiredRenderer. */
export function desiredState(mesh: Mesh, opts: DesiredOptions): HostDesired[] {
  const render = desiredRenderer(mesh, opts)
  return mesh.hosts.map(render)
}

/**
 * One host's desired state at a time. What every host shares (hosts block, names, peer sections) is
 * computed once; a host's own files are rendered on demand, so a caller that writes and drops them
 * holds one host's files, not the fleet's (a wg config alone is ~170 bytes per peer: N^2 in all).
 */
export function desiredRenderer(mesh: Mesh, opts: DesiredOptions): (host: MeshHost) => HostDesired {
  const hostsBlock = renderHostsBlock(mesh)
  const names = meshNames(mesh)
  const wgConfig = wgConfigRenderer(mesh)
  return (host) => {
    const privateKey = opts.privateKeys.get(host.name)
    if (!privateKey) throw new Error(`no private key for ${host.name}`)
    const secrets: PeerSecrets = {presharedKeys: opts.presharedKeys?.get(host.name)}
    return {
      host,
      wgConfig: {path: wgConfigPath(mesh.interface), content: wgConfig.text(host, privateKey, secrets), mode: 0o600, secret: true},
      hostsBlock,
      meshNames: names,
      extraFiles: opts.extraFiles?.(host) ?? [],
      managed: opts.managed ?? [],
    }
  }
}
