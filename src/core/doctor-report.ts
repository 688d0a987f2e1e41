// What the doctor reports, as types: findings, the matrix and the cluster view. A module of its own so
// the verdicts (doctor.ts), the checks (doctor-checks.ts, doctor-resolution.ts) and the cluster view
// (cluster.ts) share them without importing each other.
import type {ClusterProbeFact} from './cluster-facts.js'
import type {Mesh, MeshHost} from './model.js'

export type Severity = 'critical' | 'fail' | 'warn'

export type CheckId =
  | 'ssh' | 'hostname' | 'wg-interface' | 'wg-key' | 'wg-port' | 'hosts-shadow' | 'epmd-local' | 'node-registered'
  | 'exposure-epmd' | 'exposure-dist' | 'wg-peer' | 'handshake' | 'resolve' | 'ping' | 'epmd-reach' | 'dist-reach' | 'dist-name'
  | 'hosts-block' | 'self-resolve' | 'self-reach'

export interface Finding {
  severity: Severity
  host: string
  peer?: string
  check: CheckId
  /** A few characters for the matrix cell. */
  label: string
  message: string
  /** What to run or change: every finding has one. */
  hint: string
}

export interface CheckContext {
  mesh: Mesh
  nowEpochS: number
  /** The node name peers dial for a host, e.g. app@Host-B. */
  nodeName: (host: MeshHost) => string
}

/** unknown = not probed (host unreachable, or no facts): neither good nor bad news. */
export type Verdict = 'ok' | 'warn' | 'fail' | 'unknown'

export interface Cell {
  verdict: Verdict
  /** Short text for the matrix: "ok", "hs never", "4369 blk", "+2" appended when more findings hide behind it. */
  label: string
}

export interface DoctorReport {
  /** Host names in inventory order: row and column order of the matrix. */
  hosts: string[]
  /** matrix[i][j]: host i looking at host j (i === j: the host's own checks). */
  matrix: Cell[][]
  /** Most severe first, then by host. */
  findings: Finding[]
  summary: Record<Severity, number>
  /** No critical and no fail findings. Warnings alone keep a mesh healthy. */
  healthy: boolean
  /** Connections that had to be dropped after the probes were done (not findings: the facts were complete). */
  notes?: string[]
  /** The cluster as the nodes see it (src/core/cluster.ts); absent with --no-cluster. Its findings count in summary and healthy. */
  cluster?: ClusterReport
}

export type ClusterCheckId = 'cluster-probe' | 'cluster-cookie' | 'cluster-name' | 'cluster-missing' | 'cluster-partition'

export interface ClusterFinding extends Omit<Finding, 'check'> {
  check: ClusterCheckId
  /** cluster-partition only: the components, each a list of host names. */
  components?: string[][]
}

export interface ClusterReport {
  /** Host names in inventory order: rows and columns of the matrix. */
  hosts: string[]
  /** matrix[i][j]: does host i's node list host j's node in erlang:nodes()? Diagonal: could the node be asked. */
  matrix: Cell[][]
  /** Groups of hosts whose nodes are connected (directly or through others); only hosts whose node answered. */
  components: string[][]
  /** Per host, what the hidden probe found (no secrets: names, atoms, paths). */
  probes: ClusterProbeFact[]
  findings: ClusterFinding[]
}
