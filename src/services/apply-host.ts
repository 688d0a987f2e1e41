// Executing one host's plan, and putting the host back as it was when any step fails.
import {posix} from 'node:path'

import {BEAM_ROOT} from '../core/beam-paths.js'
import {ExternalCommandError} from '../core/errors.js'
import {FileChange, HostPlan, RollbackFacts} from '../core/plan.js'
import {parseWgQuick} from '../core/wgconf.js'
import {BatchOp, BatchOutcome, describeOp} from '../remote/batch.js'
import {BatchRun, RemoteHost, WriteHow} from '../remote/hostops.js'
import {hostErrorText} from '../remote/result.js'
import {removeDirIfEmpty} from '../remote/teardown-ops.js'
import type {HostResult} from './apply-types.js'

export interface HostRunContext {
  iface: string
  /** Public keys the running interface must have as peers afterwards. */
  peers: string[]
  progress: (message: string) => void
}

interface Written {
  change: FileChange
  how: WriteHow | 'removed'
}

export async function executeHostPlan(remote: RemoteHost, plan: HostPlan, facts: RollbackFacts, ctx: HostRunContext): Promise<HostResult> {
  const written: Written[] = []
  let ifaceTouched = false
  const notes: string[] = plan.iface.kind === 'none' ? [] : [plan.iface.reason]
  const {ops, files, ifaceAt} = stepsOf(plan, ctx)
  // Runs ops[from, to) in one round trip and records what may have run, for the rollback.
  const runSlice = async (from: number, to: number): Promise<BatchOutcome> => {
    const inSlice = (at: number, end: number) => at >= from && at <= end
    let run: BatchRun
    try {
      run = await remote.batch(ops.slice(from, to))
    } catch (e) {
      // Connection lost or time limit: any step may have run, so every one is undone (each undo is harmless
      // where its step never ran).
      written.push(...files.filter((f) => inSlice(f.at, to - 1)).map(({change}): Written => ({change, how: change.kind === 'delete' ? 'removed' : 'renamed'})))
      ifaceTouched ||= ifaceAt !== undefined && inSlice(ifaceAt, to - 1)
      throw e
    }
    const {outcome} = run
    // Steps up to the one that failed ran, that one included: a write that fails midway is rolled back like a finished one.
    const last = from + (outcome.done ? to - from - 1 : (outcome.started ?? -1))
    const how = (change: FileChange, at: number): Written['how'] => (change.kind === 'delete' ? 'removed' : ((outcome.wrote.get(at - from)?.how as WriteHow) ?? 'renamed'))
    written.push(...files.filter((f) => inSlice(f.at, last)).map(({change, at}) => ({change, how: how(change, at)})))
    ifaceTouched ||= ifaceAt !== undefined && inSlice(ifaceAt, last)
    if (!outcome.done) throw new ExternalCommandError(remote.t.name, last >= from ? describeOp(ops[last], ctx.iface) : 'apply the changes', run.code, run.stderr)
    for (const {change, at} of files) {
      if (change.kind === 'delete' || !inSlice(at, to - 1)) continue
      const got = outcome.wrote.get(at - from)
      // A config the host put its own key into must hold the keyed bytes the host reported (network.keys: host).
      const expect = got?.keyed ?? run.want.get(at - from)
      if ((got?.how !== 'renamed' && got?.how !== 'inplace') || got.sha !== expect) {
        const why = `the file on the host does not hold the bytes written (sha256 ${got?.sha || 'not reported'}, want ${expect})`
        throw new ExternalCommandError(remote.t.name, describeOp(ops[at], ctx.iface), 0, why)
      }
      if (got.how === 'inplace') notes.push(`${change.path}: rename refused (EBUSY, bind-mounted file): wrote in place`)
    }
    return outcome
  }
  try {
    ctx.progress(progressText(plan, ctx.iface))
    let outcome: BatchOutcome
    if (plan.iface.kind !== 'syncconf' || ifaceAt === undefined) outcome = await runSlice(0, ops.length)
    else {
      // A rotation orders the hosts' `wg syncconf` through RemoteHost.syncconf (lifecycle.ts gates and signals it
      // there): that one step goes through the method, between the batch before it and the one after.
      if (ifaceAt > 0) await runSlice(0, ifaceAt)
      ifaceTouched = true
      await remote.syncconf(ctx.peers.length)
      outcome = await runSlice(ifaceAt + 1, ops.length)
    }
    checkPeers(outcome.peers, ctx)
    ctx.progress('done')
    return {
      name: plan.name,
      status: 'changed',
      files: written.map((w) => ({path: w.change.path, kind: w.change.kind, how: w.how})),
      iface: plan.iface.kind,
      disruptive: plan.disruptive,
      ...(plan.hostsLines ? {hostsLines: plan.hostsLines} : {}),
      notes,
    }
  } catch (e) {
    const error = hostErrorText(e)
    ctx.progress(`failed, restoring: ${error}`)
    const rollbackError = await restore(remote, plan, facts, written, ifaceTouched, ctx).then(
      () => null,
      (r: Error) => r.message,
    )
    return {
      name: plan.name,
      status: rollbackError ? 'failed' : 'restored',
      files: [],
      iface: plan.iface.kind,
      disruptive: plan.disruptive,
      error: rollbackError ? `${error}; restoring the previous state also failed: ${rollbackError}` : error,
      // writeFile resolves only when the host's sha256 of the file equals the old bytes': "restored" is checked.
      notes: rollbackError ? notes : [...notes, 'previous files (checked by sha256) and interface state restored'],
    }
  }
}

/**
 * The plan as batch steps, in the order the host runs them: each retired file's deactivation then its
 * removal, the writes, the written files' activations, re-activations, the interface, the unit, the peer check.
 */
function stepsOf(plan: HostPlan, ctx: HostRunContext): {ops: BatchOp[]; files: {change: FileChange; at: number}[]; ifaceAt?: number} {
  const ops: BatchOp[] = []
  const files: {change: FileChange; at: number}[] = []
  for (const change of plan.files) {
    if (change.kind === 'delete' && change.deactivate) ops.push({kind: 'run', argv: change.deactivate})
    files.push({change, at: ops.length})
    ops.push(change.kind === 'delete' ? {kind: 'remove', path: change.path} : {kind: 'write', path: change.path, content: change.after, mode: change.mode, owner: change.owner})
  }
  for (const {change} of files) if (change.activate && change.kind !== 'delete') ops.push({kind: 'run', argv: change.activate})
  for (const r of plan.reactivate) ops.push({kind: 'run', argv: r.activate})
  const ifaceAt = plan.iface.kind === 'none' ? undefined : ops.length
  if (plan.iface.kind === 'up') ops.push({kind: 'up'})
  else if (plan.iface.kind === 'syncconf') ops.push({kind: 'syncconf', peers: ctx.peers.length})
  else if (plan.iface.kind === 'restart') ops.push({kind: 'restart'})
  if (plan.enableUnit) ops.push({kind: 'run', argv: ['systemctl', 'enable', `wg-quick@${ctx.iface}`]})
  ops.push({kind: 'verify'})
  return {ops, files, ifaceAt}
}

function progressText(plan: HostPlan, iface: string): string {
  const files = plan.files.map((f) => (f.kind === 'delete' ? `removing ${f.path} (no longer managed)` : `writing ${f.path}`))
  const step = {up: `wg-quick up ${iface}`, syncconf: `wg syncconf ${iface}`, restart: `wg-quick down/up ${iface} (disruptive)`, none: ''}[plan.iface.kind]
  return [...files, ...plan.reactivate.map((r) => `re-activating ${r.path}`), step].filter(Boolean).join('; ')
}

/** The running peers the batch's last step saw (null: the interface is down). */
function checkPeers(running: string[] | null | undefined, ctx: HostRunContext): void {
  if (running === undefined) throw new Error(`${ctx.iface}: the peer check after apply did not run`)
  if (running === null) throw new Error(`${ctx.iface} is not running after apply`)
  const have = new Set(running)
  const missing = ctx.peers.filter((p) => !have.has(p)).length
  const extra = running.filter((p) => !ctx.peers.includes(p)).length
  if (missing || extra) throw new Error(`${ctx.iface} has ${missing} peers missing and ${extra} unexpected after apply`)
}

/** The owner to put back on rollback: a named user other than root (root is the default; UNKNOWN = uid without a name). */
const previousOwner = (change: FileChange) => (change.beforeMeta && !['root', 'UNKNOWN'].includes(change.beforeMeta.owner) ? change.beforeMeta.owner : undefined)

async function restore(remote: RemoteHost, plan: HostPlan, facts: RollbackFacts, written: Written[], ifaceTouched: boolean, ctx: HostRunContext) {
  const wasUp = facts.wasUp
  // `wg-quick down` reads the config the interface came up with: take it down before that file is removed.
  if (ifaceTouched && !wasUp) await remote.down().catch(() => undefined)
  for (const {change} of [...written].reverse()) {
    if (change.before === null) await remote.removeFile(change.path)
    else await remote.writeFile(change.path, change.before, change.beforeMeta?.mode ?? change.mode, previousOwner(change))
  }
  // The mesh's own BEAM directory, when this apply created it (rmdir only takes an empty one).
  const created = written.filter(({change}) => change.before === null && change.path.startsWith(`${BEAM_ROOT}/`))
  for (const dir of new Set(created.map(({change}) => posix.dirname(change.path)))) if (dir !== BEAM_ROOT) await removeDirIfEmpty(remote, dir)
  for (const {change} of written) {
    if (change.before !== null && change.activate) await remote.run(change.activate)
    // A created file's activation may have run: undo it (deactivate succeeds when there is nothing to undo).
    if (change.before === null && change.deactivate) await remote.run(change.deactivate)
  }
  if (!ifaceTouched || !wasUp) return
  const oldConfig = [...facts.files.entries()].find(([path]) => path.endsWith(`/${ctx.iface}.conf`))?.[1]
  if (!oldConfig) return
  if (plan.iface.kind === 'restart' || (await remote.runningPeers()) === null) {
    await remote.down().catch(() => undefined)
    await remote.up()
  } else {
    await remote.syncconf(parseWgQuick(oldConfig).peers.length)
  }
}
