// The part of `mesh apply` after facts are in, shared with `mesh remove` and `mesh rotate-keys`:
// show the plan, stop for --dry-run or when nothing changes, ask for consent, execute, show the result.
import {escapeForTerminal} from '../core/display.js'
import {UserError} from '../core/errors.js'
import {isNoop} from '../core/plan.js'
import type {ApplyProgress, ApplyResult, ApplySession} from '../services/apply-types.js'
import {executeApply, planResult} from '../services/apply.js'
import {lifecycleWork} from '../services/lifecycle.js'
import {confirm} from './confirm.js'
import {unreachedLine} from './reach.js'
import {Style, renderPlan, renderResult} from './plan.js'

export interface FlowOptions {
  dryRun: boolean
  yes: boolean
  json: boolean
  diff: boolean
  style: Style
  log: (text: string) => void
  /** settle (the UI's own progress, e.g. the listr2 board) is awaited before the plan and the result are printed. */
  progress: ApplyProgress & {settle?: () => Promise<void>}
  /** Called once consent is given, just before anything on a host changes. */
  onExecute?: () => void
}

export interface FlowResult extends ApplyResult {
  dryRun: boolean
  /** Local changes this run made, or in a preview would make (keys and addresses to be created, archived hosts). */
  notes?: string[]
}

export async function planConfirmApply(session: ApplySession, o: FlowOptions): Promise<FlowResult> {
  await o.progress.settle?.()
  const notes = session.loaded.notes
  for (const n of notes) o.log(`note: ${escapeForTerminal(n)}`)
  o.log(renderPlan(session.sessions, o.style, o.diff, session.teardowns))
  const missed = unreachedLine(session.sessions, 'planned')
  if (missed) o.log(o.style.red(missed))
  const pending = session.sessions.filter((s) => s.plan && !isNoop(s.plan))
  const work = lifecycleWork(session)
  if (o.dryRun || (pending.length === 0 && !work.any)) {
    const result = planResult(session)
    // "Nothing to change" only when every selected host was reached and is in sync.
    if (!pending.length && !work.any) {
      if (!missed) o.log('Nothing to change.')
      else if (session.sessions.some((s) => s.plan)) o.log('The other hosts are in sync.')
    }
    if (result.failed) process.exitCode = failureExitCode(result)
    return {...result, dryRun: o.dryRun, ...(notes.length ? {notes} : {})}
  }
  const remote = pending.length + work.remote
  if (!o.yes && remote > 0) {
    if (!process.stdin.isTTY || o.json) throw new UserError('apply needs confirmation', 'review the plan with --dry-run, then pass --yes')
    if (!(await confirm(`Apply these changes to ${remote} host(s)?`))) throw new UserError('cancelled, nothing was changed')
  }
  o.onExecute?.()
  // First Ctrl-C: finish the hosts in flight (no half-written file anywhere), start no new ones.
  const onSigint = () => {
    if (session.interrupted) process.exit(130)
    session.interrupted = true
    process.stderr.write('\ninterrupted: finishing hosts in progress, starting no new ones (Ctrl-C again to quit now)\n')
  }
  process.on('SIGINT', onSigint)
  const result = await executeApply(session, o.progress).finally(async () => {
    process.off('SIGINT', onSigint)
    await o.progress.settle?.()
  })
  const notApplied = unreachedLine(session.sessions, 'applied')
  o.log(`${notApplied ? `${o.style.red(notApplied)}\n` : ''}${renderResult(result, o.style)}`)
  // Interrupted is never success, even when every host was already in flight and finished.
  if (session.interrupted) process.exitCode = 130
  else if (result.failed) process.exitCode = failureExitCode(result)
  return {...result, dryRun: false, ...(notes.length ? {notes} : {})}
}

/** 2 when a host failed for a reason the user fixes there (e.g. broken /etc/hosts markers), else 1. */
export function failureExitCode(result: ApplyResult): number {
  return result.hosts.some((h) => h.fixable) ? 2 : 1
}
