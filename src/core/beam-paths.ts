// Where the BEAM artifacts of one mesh live on a host, and which paths and nftables table it owns there.
// Keyed by the mesh's interface, so two meshes on one host (wg0 and wg9) never touch each other. Pure.
import {ManagedPath} from './desired.js'

/** Every mesh keeps its own directory below this one, named after its interface. */
export const BEAM_ROOT = '/etc/beam-mesh'
export const beamDir = (iface: string) => `${BEAM_ROOT}/${iface}`

export interface BeamPaths {
  cookie: string
  envSh: string
  vmArgs: string
  libcluster: string
  firewall: string
}

const pathsIn = (dir: string): BeamPaths => ({
  cookie: `${dir}/cookie`,
  envSh: `${dir}/env.sh`,
  vmArgs: `${dir}/vm.args`,
  libcluster: `${dir}/libcluster.exs`,
  firewall: `${dir}/firewall.nft`,
})

/**
 * Where each artifact of the mesh on `iface` lives on a host: /etc/beam-mesh/<iface>/…, so two meshes
 * on one host (wg0 and wg9) never write, retire or tear down each other's files. Fixed per interface,
 * so env.sh can name the others.
 */
export const beamPaths = (iface: string): BeamPaths => pathsIn(beamDir(iface))

/** The mesh's own nftables table; nft identifiers take letters, digits, _ . - as interface names do. */
export const nftTable = (iface: string) => `beam_mesh_${iface}`

/** Loads the firewall table from its file; the file's own add+delete makes the reload idempotent. */
const firewallActivate = (path: string) => ['nft', '-f', path]
/** Unloads the table in one transaction: "add" first, so it also succeeds when the table is not loaded. */
export const firewallDeactivate = (table: string) => ['nft', `add table inet ${table}; delete table inet ${table}`]
/** The table is loaded (it is not after a reboot, unless something reloads it). */
const firewallIsActive = (table: string) => ['nft', 'list', 'table', 'inet', table]
export const firewallHooks = (path: string, table: string) => ({activate: firewallActivate(path), deactivate: firewallDeactivate(table), isActive: firewallIsActive(table)})

// ---- the single layout of earlier versions ---------------------------------------------------

/** Earlier versions kept one mesh's files directly in /etc/beam-mesh and its table in inet beam_mesh. */
export const LEGACY_PATHS = pathsIn(BEAM_ROOT)
export const LEGACY_TABLE = 'beam_mesh'
/** Legacy vm.args names its interface in this line: the legacy files belong to the mesh it names. */
const legacyOwnerMark = (iface: string) => `on this host's ${iface} address`

/**
 * Every file the mesh on `iface` may own, desired or not: apply reads them all and removes (after undoing
 * its activation) one that is present but no longer rendered, e.g. the firewall after beam.firewall went
 * from true to false. The legacy single-layout files count as this mesh's only when the legacy vm.args
 * names this interface: apply then migrates them (new files written, old ones and table inet beam_mesh
 * removed, all shown in the plan), while another mesh's apply leaves them alone.
 */
export function beamManaged(iface: string): ManagedPath[] {
  const paths = beamPaths(iface)
  const ownedIf = {path: LEGACY_PATHS.vmArgs, contains: legacyOwnerMark(iface)}
  return [
    ...(Object.values(paths) as string[]).map((path): ManagedPath => (path === paths.firewall ? {path, ...firewallHooks(path, nftTable(iface))} : {path})),
    ...(Object.values(LEGACY_PATHS) as string[]).map((path): ManagedPath => ({
      path,
      ownedIf,
      ...(path === LEGACY_PATHS.firewall ? firewallHooks(path, LEGACY_TABLE) : {}),
    })),
  ]
}

/** Each firewall file the mesh on `iface` may own, with the table loaded from it (for teardown). */
export const beamFirewalls = (iface: string) => [
  {path: beamPaths(iface).firewall, table: nftTable(iface)},
  {path: LEGACY_PATHS.firewall, table: LEGACY_TABLE},
]
