// The types of the apply flow, shared by the flow (apply.ts), the per-host executor (apply-host.ts),
// the lifecycle work (lifecycle.ts) and the UI that renders them: a module of their own, so none of
// those imports another just for a type.
import type {MeshHost} from '../core/model.js'
import type {ApplyHostFacts, HostPlan, RollbackFacts} from '../core/plan.js'
import type {RemoteHost} from '../remote/hostops.js'
import type {CloseNote} from '../remote/pool.js'
import type {LoadedMesh} from './mesh.js'
import type {TeardownResult, TeardownSession} from './teardown.js'

/** Events for the UI; the service never formats output itself. */
export interface ApplyProgress {
  step(host: string, message: string): void
}

export const silentProgress: ApplyProgress = {step() {}}

export interface ApplyOptions {
  inventoryFile: string
  stateDir?: string
  /** Only these hosts are touched; configs are still rendered from the whole inventory. */
  hosts?: string[]
  concurrency?: number
  /** A preview (plan, --dry-run): nothing is written locally, not even the lock; new keys live in memory. */
  dryRun?: boolean
  /** --command-timeout: seconds for every remote command, instead of the defaults per kind. */
  commandTimeoutSeconds?: number
  /** Put back files an interrupted in-place write left torn (apply; a preview only reports them). */
  repair?: boolean
}

/** One host through apply. Its desired files are rendered for planning and not kept: the plan holds what changes. */
export interface HostSession {
  host: MeshHost
  remote?: RemoteHost
  /** From the facts round trip until the host is planned; then only `rollback` is kept. */
  facts?: ApplyHostFacts
  plan?: HostPlan
  rollback?: RollbackFacts
  error?: string
  /** The failure is the user's to fix on the host (e.g. broken /etc/hosts markers): exit code 2. */
  fixable?: boolean
}

export interface ApplySession {
  loaded: LoadedMesh
  sessions: HostSession[]
  /** Hosts removed from the inventory whose teardown is pending (full applies only, not --hosts). */
  teardowns: TeardownSession[]
  concurrency: number
  /** Set on SIGINT: hosts not yet started are skipped; hosts in flight finish (every write is atomic). */
  interrupted: boolean
  /** Closes every connection (bounded) and releases the lock; notes name connections that had to be dropped. */
  close(): Promise<CloseNote[]>
}

export type HostStatus = 'unchanged' | 'changed' | 'failed' | 'restored' | 'unreachable' | 'skipped'

export interface HostResult {
  name: string
  status: HostStatus
  files: {path: string; kind: string; how?: string}[]
  iface: string
  disruptive: boolean
  error?: string
  /** The error is the user's to fix on the host (its text says how): the run exits 2. */
  fixable?: boolean
  notes: string[]
  /** /etc/hosts lines outside the block neutralized (mesh names mapped elsewhere) or restored by this run. */
  hostsLines?: HostPlan['hostsLines']
}

export interface ApplyResult {
  hosts: HostResult[]
  changed: number
  failed: number
  teardowns?: TeardownResult[]
  rotation?: RotationResult
  warnings?: string[]
}

export interface RotationResult {
  /** Hosts whose new key was rolled out in this run. */
  hosts: string[]
  /** Pairs whose new preshared key was rolled out. */
  psks: number
  /** The new secrets replaced the old ones in the state dir (false: re-run `mesh apply` to finish). */
  committed: boolean
  reason?: string
}
