// `mesh apply`: connect -> gather facts -> plan -> (dry run stops here) -> execute -> verify.
// A host that fails is restored to its previous files and interface state; the others carry on.
import {beamManaged} from '../core/beam-paths.js'
import {HostDesired, desiredRenderer} from '../core/desired.js'
import {UserError} from '../core/errors.js'
import {Inventory} from '../core/inventory.js'
import {MeshHost, peersOf} from '../core/model.js'
import {HostPlan, isNoop, planHost, rollbackFacts} from '../core/plan.js'
import {RemoteHost} from '../remote/hostops.js'
import {CloseNote, closeAll} from '../remote/pool.js'
import {commandTimeouts} from '../remote/timeouts.js'
import {hostErrorText} from '../remote/result.js'
import {Lock, lockStateDir} from '../state/lock.js'
import {defaultStateDir} from '../state/store.js'
import {beamFilesFor} from './beam-files.js'
import type {Connector} from './connect.js'
import {DEFAULT_CONCURRENCY, mapLimit} from './limit.js'
import {LoadedMesh, loadMesh, readInventory} from './mesh.js'
import {executeHostPlan} from './apply-host.js'
import {ApplyOptions, ApplyProgress, ApplyResult, ApplySession, HostResult, HostSession, silentProgress} from './apply-types.js'
import {runLifecycle} from './lifecycle.js'
import {TeardownSession, closeTeardowns, plannedTeardown, prepareTeardowns, teardownWarnings} from './teardown.js'
import {factsRequest, useHostKeys} from './host-keys-apply.js'


function selectHosts(all: MeshHost[], wanted?: string[]): MeshHost[] {
  if (!wanted?.length) return all
  const byName = new Map(all.map((h) => [h.name.toLowerCase(), h]))
  const unknown = wanted.filter((w) => !byName.has(w.toLowerCase()))
  if (unknown.length) {
    throw new UserError(`--hosts names ${unknown.join(', ')}, not in the inventory`, `use names from the inventory: ${all.map((h) => h.name).join(', ')}`)
  }
  return wanted.map((w) => byName.get(w.toLowerCase())!)
}

/** makeConnector gets the loaded inventory (its ssh: section) and returns how to reach each host. */
export async function prepareApply(
  opts: ApplyOptions,
  makeConnector: (inventory: Inventory) => Connector,
  progress: ApplyProgress = silentProgress,
): Promise<ApplySession> {
  // Bad input is refused before anything is made (not even the lock); then the lock comes before the first
  // write (state.json, new keys), so a refused apply has changed nothing. The inventory is read once, before the
  // lock (as init does); the state is read again under it.
  const inventory = readInventory(opts.inventoryFile)
  if (!opts.dryRun) loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir, persist: false, preview: true, inventory})
  const lock: Lock = opts.dryRun ? {release() {}} : lockStateDir(opts.stateDir ?? defaultStateDir(opts.inventoryFile), 'apply')
  let loaded: LoadedMesh
  let targets: Set<string>
  let connect: Connector
  try {
    loaded = loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir, persist: !opts.dryRun, preview: opts.dryRun, inventory})
    connect = makeConnector(loaded.inventory)
    targets = new Set(selectHosts(loaded.mesh.hosts, opts.hosts).map((h) => h.name))
  } catch (e) {
    lock.release()
    throw e
  }
  // One host's files at a time: what every host shares is rendered once, a host's own files when its facts are in,
  // and they are dropped once its plan holds what changes (a fleet's configs at once would be N^2 bytes).
  const renderer = () => desiredRenderer(loaded.mesh, {privateKeys: loaded.privateKeys, presharedKeys: loaded.presharedKeys, extraFiles: beamFilesFor(loaded), managed: beamManaged(loaded.mesh.interface)})
  let renderHost = renderer()
  const sessions: HostSession[] = loaded.mesh.hosts.filter((h) => targets.has(h.name)).map((host) => ({host}))
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY
  const iface = loaded.mesh.interface
  const timeouts = commandTimeouts(opts.commandTimeoutSeconds)

  let teardowns: TeardownSession[] = []
  // Bounded (a host that vanished after its work is dropped, not waited for); the lock is released either way.
  const close = async (): Promise<CloseNote[]> => {
    try {
      const [members, removed] = await Promise.all([closeAll(sessions.map((s) => s.remote?.t)), closeTeardowns(teardowns)])
      return [...members, ...removed]
    } finally {
      lock.release()
    }
  }
  // A host whose files cannot be planned (e.g. broken markers in its /etc/hosts) fails alone, as its facts would.
  const planOne = (s: HostSession, desired: HostDesired) => {
    if (!s.facts || s.error) return
    try {
      s.plan = planHost(desired, s.facts, iface)
      s.rollback = rollbackFacts(s.facts, s.plan, desired.wgConfig.path)
      s.facts = undefined
      progress.step(s.host.name, isNoop(s.plan) ? 'up to date' : 'changes planned')
    } catch (e) {
      s.error = hostErrorText(e)
      s.fixable = e instanceof UserError
      progress.step(s.host.name, `failed: ${s.error}`)
    }
  }
  try {
    await mapLimit(sessions, concurrency, async (s) => {
      try {
        progress.step(s.host.name, 'connecting')
        s.remote = new RemoteHost(await connect(s.host), iface, timeouts)
        progress.step(s.host.name, 'gathering facts')
        const desired = renderHost(s.host)
        // Every path we may own, not just the desired ones: a present but undesired one is retired.
        const paths = [...new Set([desired.wgConfig.path, ...desired.extraFiles.map((f) => f.path), ...desired.managed.map((m) => m.path)])]
        const hostKey = loaded.hostKeys ? factsRequest(loaded.state, s.host.name, Boolean(opts.dryRun)) : undefined
        const expected = new Map([desired.wgConfig, ...desired.extraFiles].map((f) => [f.path, f.content]))
        s.facts = await s.remote.facts(paths, {repair: opts.repair, hostKey, expected})
        s.facts.inactive = await s.remote.inactive(desired.extraFiles.filter((f) => s.facts!.files.get(f.path) != null))
        if (!loaded.hostKeys) planOne(s, desired)
      } catch (e) {
        s.error = hostErrorText(e)
        s.fixable = e instanceof UserError
        progress.step(s.host.name, `failed: ${s.error}`)
      }
    })
    // Host keys: collected from every host's facts first, so each config is rendered with all of them. With
    // local keys each host was planned as soon as its facts came in.
    if (loaded.hostKeys) {
      useHostKeys(loaded, sessions, Boolean(opts.dryRun))
      renderHost = renderer()
      for (const s of sessions) if (s.facts && !s.error) planOne(s, renderHost(s.host))
    }
    if (!opts.hosts?.length) {
      teardowns = await prepareTeardowns(loaded.state.archived, connect, iface, concurrency, progress.step.bind(progress), timeouts, loaded.hostKeys)
    }
  } catch (e) {
    await close()
    throw e
  }
  return {loaded, sessions, teardowns, concurrency, interrupted: false, close}
}

export function planResult(session: ApplySession): ApplyResult {
  const teardowns = session.teardowns.map(plannedTeardown)
  const planned = summarize(
    session.sessions.map((s) =>
      s.plan
        ? {...describePlan(s.plan), status: isNoop(s.plan) ? 'unchanged' : 'changed'}
        : notPlanned(s),
    ),
  )
  const warnings = teardownWarnings(teardowns)
  return teardowns.length ? {...planned, teardowns, ...(warnings.length ? {warnings} : {})} : planned
}

/** A host with no plan: unreachable when SSH failed, failed when it connected but its facts could not be read (e.g. sudo). */
function notPlanned(s: HostSession): HostResult {
  return {name: s.host.name, status: s.remote ? 'failed' : 'unreachable', files: [], iface: 'none', disruptive: false, error: s.error, ...(s.fixable ? {fixable: true} : {}), notes: []}
}

export function describePlan(plan: HostPlan): Omit<HostResult, 'status'> {
  return {
    name: plan.name,
    files: plan.files.map((f) => ({path: f.path, kind: f.kind})),
    iface: plan.iface.kind,
    disruptive: plan.disruptive,
    ...(plan.hostsLines ? {hostsLines: plan.hostsLines} : {}),
    notes: [
      ...(plan.notes ?? []),
      ...plan.files.filter((f) => f.linkTarget).map((f) => `${f.path} is a symlink: written through to ${f.linkTarget}, the link stays`),
      ...(plan.iface.kind === 'none' ? [] : [plan.iface.reason]),
      ...plan.reactivate.map((r) => `${r.path} was not in effect: re-activated`),
    ],
  }
}

function summarize(hosts: HostResult[]): ApplyResult {
  return {
    hosts,
    changed: hosts.filter((h) => h.status === 'changed').length,
    failed: hosts.filter((h) => ['failed', 'restored', 'unreachable', 'skipped'].includes(h.status)).length,
  }
}

/**
 * The result after close: a connection dropped at the end is a note on its host (its work was done and
 * verified before), or a warning for a removed host's teardown connection. Never changes a status.
 */
export function withCloseNotes<R extends ApplyResult>(result: R, notes: CloseNote[]): R {
  if (!notes.length) return result
  const byName = new Map(notes.map((n) => [n.name, n.note]))
  const hosts = result.hosts.map((h) => (byName.has(h.name) ? {...h, notes: [...h.notes, byName.get(h.name)!]} : h))
  const others = notes.filter((n) => !result.hosts.some((h) => h.name === n.name)).map((n) => `${n.name}: ${n.note}`)
  return {...result, hosts, ...(others.length ? {warnings: [...(result.warnings ?? []), ...others]} : {})}
}

/** Host plans (in the order a key rotation needs), then teardowns of removed hosts, then the rotation's commit. */
export async function executeApply(session: ApplySession, progress: ApplyProgress = silentProgress): Promise<ApplyResult> {
  const {hosts, teardowns, rotation, warnings} = await runLifecycle(session, (list) => executeHosts(session, list, progress), progress)
  const result = summarize(hosts)
  return {...result, failed: result.failed + teardowns.filter((t) => t.status === 'failed').length, teardowns, rotation, warnings}
}

async function executeHosts(session: ApplySession, list: HostSession[], progress: ApplyProgress): Promise<HostResult[]> {
  const iface = session.loaded.mesh.interface
  return mapLimit(list, session.concurrency, async (s): Promise<HostResult> => {
    if (!s.plan || !s.remote || !s.rollback) return notPlanned(s)
    if (isNoop(s.plan)) return {...describePlan(s.plan), status: 'unchanged'}
    if (session.interrupted) return {...describePlan(s.plan), status: 'skipped', error: 'interrupted before this host was started'}
    const peers = peersOf(session.loaded.mesh, s.host.name).map((h) => h.publicKey)
    return executeHostPlan(s.remote, s.plan, s.rollback, {iface, peers, progress: (m) => progress.step(s.host.name, m)})
  })
}
