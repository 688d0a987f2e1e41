// Hosts removed from the inventory (archived in state.json with teardownPending): connect with the SSH
// target recorded while they were members, plan their teardown from facts, execute it, and only then
// record teardownPending=false. An unreachable host is a warning, not a failed apply: it stays pending,
// and the next `mesh apply` tries again (its peers no longer list it either way).
import {BEAM_ROOT, beamDir, beamFirewalls, beamManaged} from '../core/beam-paths.js'
import {ManagedPath, isOwned, wgConfigPath} from '../core/desired.js'
import {TeardownPlan, describeStep, planTeardown} from '../core/teardown.js'
import {RemoteHost} from '../remote/hostops.js'
import {CloseNote, closeAll} from '../remote/pool.js'
import {hostErrorText} from '../remote/result.js'
import {CommandTimeouts, commandTimeouts, forTeardown} from '../remote/timeouts.js'
import {removeDirIfEmpty, runTeardownStep} from '../remote/teardown-ops.js'
import {ArchivedHost, StateStore} from '../state/store.js'
import type {Connector} from './connect.js'
import {mapLimit} from './limit.js'

export interface TeardownSession {
  archived: ArchivedHost
  remote?: RemoteHost
  plan?: TeardownPlan
  error?: string
}

export type TeardownStatus = 'planned' | 'torn-down' | 'clean' | 'unreachable' | 'failed' | 'skipped'

export interface TeardownResult {
  name: string
  status: TeardownStatus
  /** What was (or, for failed, would have been) done, one phrase per step. */
  steps: string[]
  error?: string
}

const managedPaths = (iface: string): ManagedPath[] => [{path: wgConfigPath(iface)}, ...beamManaged(iface)]

export async function prepareTeardowns(
  archived: ArchivedHost[],
  connect: Connector,
  iface: string,
  concurrency: number,
  step: (host: string, message: string) => void,
  timeouts: CommandTimeouts = commandTimeouts(),
  /** network.keys: host: the host's config is read with its private key hidden, as in apply's facts. */
  hostKeys = false,
): Promise<TeardownSession[]> {
  const sessions: TeardownSession[] = archived.filter((a) => a.teardownPending).map((a) => ({archived: a}))
  await mapLimit(sessions, concurrency, async (s) => {
    const {name, ssh, endpoint} = s.archived
    try {
      const target = ssh ?? (endpoint ? {host: endpoint} : null)
      if (!target) throw new Error('state.json has no SSH target or endpoint for it')
      step(name, 'connecting (removed from the inventory: teardown)')
      s.remote = new RemoteHost(await connect({name, ssh: target}), iface, forTeardown(timeouts))
      const managed = managedPaths(iface)
      const facts = await s.remote.facts(managed.map((m) => m.path), hostKeys ? {hostKey: {make: false, next: false}} : {})
      // Only this mesh's files: the legacy single layout only when it names this interface (see beamManaged).
      const owned = managed.filter((m) => isOwned(m, facts.files)).map((m) => m.path)
      const firewalls = beamFirewalls(iface).filter((fw) => owned.includes(fw.path))
      s.plan = planTeardown(name, facts, owned, iface, firewalls)
      step(name, s.plan.steps.length ? 'teardown planned' : 'already torn down')
    } catch (e) {
      s.error = hostErrorText(e)
      step(name, `${s.remote ? 'failed' : 'unreachable, teardown postponed'}: ${s.error}`)
    }
  })
  return sessions
}

export async function executeTeardowns(
  sessions: TeardownSession[],
  store: StateStore,
  concurrency: number,
  step: (host: string, message: string) => void,
): Promise<TeardownResult[]> {
  const results = await mapLimit(sessions, concurrency, async (s): Promise<TeardownResult> => {
    const name = s.archived.name
    if (!s.remote || !s.plan) return {name, status: s.remote ? 'failed' : 'unreachable', steps: [], error: s.error}
    const iface = s.remote.iface
    const done: string[] = []
    try {
      for (const st of s.plan.steps) {
        step(name, describeStep(st, iface))
        await runTeardownStep(s.remote, st)
        done.push(describeStep(st, iface))
      }
      await removeDirIfEmpty(s.remote, beamDir(iface))
      await removeDirIfEmpty(s.remote, BEAM_ROOT)
      step(name, 'torn down')
      return {name, status: s.plan.steps.length ? 'torn-down' : 'clean', steps: done}
    } catch (e) {
      // No rollback: every step done is a step less for the retry, and the host is no member any more.
      return {name, status: 'failed', steps: done, error: (e as Error).message}
    }
  })
  store.markTornDown(results.filter((r) => r.status === 'torn-down' || r.status === 'clean').map((r) => r.name))
  return results
}

/** For --dry-run and --json: what a teardown would do. */
export function plannedTeardown(s: TeardownSession): TeardownResult {
  const name = s.archived.name
  if (!s.remote || !s.plan) return {name, status: s.remote ? 'failed' : 'unreachable', steps: [], error: s.error}
  return {name, status: 'planned', steps: s.plan.steps.map((st) => describeStep(st, s.remote!.iface))}
}

/** Removed hosts that could not be reached: not a failure, the next apply retries them. */
export function teardownWarnings(teardowns: TeardownResult[]): string[] {
  return teardowns
    .filter((t) => t.status === 'unreachable')
    .map((t) => `${t.name}: removed from the inventory but unreachable (${t.error}); teardown stays pending, the next apply retries it`)
}

/** Bounded whatever the hosts do; a connection that had to be dropped comes back as a note. */
export const closeTeardowns = (sessions: TeardownSession[]): Promise<CloseNote[]> => closeAll(sessions.map((s) => s.remote?.t))
