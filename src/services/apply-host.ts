// Executing one host's plan, and putting the host back as it was when any step fails.
import {posix} from 'node:path'

import {BEAM_ROOT} from '../core/beam-paths.js'
import {FileChange, ApplyHostFacts, HostPlan} from '../core/plan.js'
import {parseWgQuick} from '../core/wgconf.js'
import {RemoteHost, WriteHow} from '../remote/hostops.js'
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

export async function executeHostPlan(remote: RemoteHost, plan: HostPlan, facts: ApplyHostFacts, ctx: HostRunContext): Promise<HostResult> {
  const written: Written[] = []
  let ifaceTouched = false
  const notes: string[] = plan.iface.kind === 'none' ? [] : [plan.iface.reason]
  try {
    for (const change of plan.files) {
      if (change.kind === 'delete') {
        await retire(remote, change, written, ctx)
        continue
      }
      ctx.progress(`writing ${change.path}`)
      // Recorded before the write: one that fails midway is rolled back like a finished one.
      const w: Written = {change, how: 'renamed'}
      written.push(w)
      w.how = await remote.writeFile(change.path, change.after, change.mode, change.owner)
      if (w.how === 'inplace') notes.push(`${change.path}: rename refused (EBUSY, bind-mounted file): wrote in place`)
    }
    for (const {change} of written) if (change.activate && change.kind !== 'delete') await remote.run(change.activate)
    for (const r of plan.reactivate) {
      ctx.progress(`re-activating ${r.path}`)
      await remote.run(r.activate)
    }

    ifaceTouched = plan.iface.kind !== 'none'
    switch (plan.iface.kind) {
      case 'up':
        ctx.progress(`wg-quick up ${ctx.iface}`)
        await remote.up()
        break
      case 'syncconf':
        ctx.progress(`wg syncconf ${ctx.iface}`)
        await remote.syncconf(ctx.peers.length)
        break
      case 'restart':
        ctx.progress(`wg-quick down/up ${ctx.iface} (disruptive)`)
        await remote.down().catch(() => undefined)
        await remote.up()
        break
      case 'none':
        break
    }
    if (plan.enableUnit) await remote.enableUnit()
    await verifyPeers(remote, ctx)
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

async function verifyPeers(remote: RemoteHost, ctx: HostRunContext): Promise<void> {
  const running = await remote.runningPeers()
  if (running === null) throw new Error(`${ctx.iface} is not running after apply`)
  const have = new Set(running)
  const missing = ctx.peers.filter((p) => !have.has(p)).length
  const extra = running.filter((p) => !ctx.peers.includes(p)).length
  if (missing || extra) throw new Error(`${ctx.iface} has ${missing} peers missing and ${extra} unexpected after apply`)
}

/** A managed file no longer desired: undo its activation (e.g. unload the firewall table), then remove it. */
async function retire(remote: RemoteHost, change: FileChange, written: Written[], ctx: HostRunContext): Promise<void> {
  ctx.progress(`removing ${change.path} (no longer managed)`)
  if (change.deactivate) await remote.run(change.deactivate)
  // Recorded before the removal: from here on a rollback writes the file back and re-activates it.
  written.push({change, how: 'removed'})
  await remote.removeFile(change.path)
}

/** The owner to put back on rollback: a named user other than root (root is the default; UNKNOWN = uid without a name). */
const previousOwner = (change: FileChange) => (change.beforeMeta && !['root', 'UNKNOWN'].includes(change.beforeMeta.owner) ? change.beforeMeta.owner : undefined)

async function restore(remote: RemoteHost, plan: HostPlan, facts: ApplyHostFacts, written: Written[], ifaceTouched: boolean, ctx: HostRunContext) {
  const wasUp = facts.running !== null
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
