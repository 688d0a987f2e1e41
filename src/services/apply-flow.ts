// The whole apply flow, shared by `mesh apply`, `plan`, `remove` and `rotate-keys`: connect and plan, show the
// plan, stop for a preview or when nothing changes, get consent through a callback, execute (Ctrl-C finishes the
// hosts in flight and starts no new one), close every connection, and return the result. The UI only renders
// what it is told and answers what it is asked; the command maps the outcome to an exit code.
import {UserError} from '../core/errors.js'
import {Inventory} from '../core/inventory.js'
import {isNoop} from '../core/plan.js'
import type {CloseNote} from '../remote/pool.js'
import {executeApply, planResult, prepareApply, withCloseNotes} from './apply.js'
import type {ApplyOptions, ApplyProgress, ApplyResult, ApplySession} from './apply-types.js'
import type {Connector} from './connect.js'
import {lifecycleWork} from './lifecycle.js'

export interface FlowResult extends ApplyResult {
  dryRun: boolean
  /** Local changes this run made, or in a preview would make (keys and addresses to be created, archived hosts). */
  notes?: string[]
}

/** The flow's answer: the result (`--json`), and whether Ctrl-C cut it short (never success). */
export interface FlowOutcome {
  result: FlowResult
  interrupted: boolean
}

/** How a command runs the flow: `plan` always dry, `remove` with consent already given, `rotate-keys` with onExecute. */
export interface FlowMode {
  dryRun: boolean
  yes: boolean
  /** Called once consent is given, just before anything on a host changes. */
  onExecute?: () => void
}

/** What the flow tells its UI and asks it. Every call comes after settle(): no progress drawing is under way. */
export interface FlowUi {
  progress: ApplyProgress
  /** Ends the UI's own progress drawing (e.g. a board); awaited before anything else is shown or asked. */
  settle(): Promise<void>
  /** The plan is in. inSync: every planned host is in sync and there is no other work (the flow stops). */
  planned(session: ApplySession, inSync: boolean): void
  /** Consent to change `hosts` host(s); absent when nobody can be asked (no terminal, --json). */
  confirm?: (hosts: number) => Promise<boolean>
  /** The first Ctrl-C: hosts in flight finish, no new one starts (a second one quits at once). */
  interrupted(): void
  executed(session: ApplySession, result: ApplyResult): void
  /** Connections that had to be dropped at the end (notes, never a status change). */
  closed(notes: CloseNote[]): void
}

/** How the flow hears Ctrl-C; returns the unsubscribe. By default SIGINT of this process. */
export type InterruptSource = (onInterrupt: () => void) => () => void

export const sigint: InterruptSource = (handler) => {
  process.on('SIGINT', handler)
  return () => process.off('SIGINT', handler)
}

export interface FlowOptions extends Omit<ApplyOptions, 'dryRun' | 'repair'> {
  /** Gets the loaded inventory (its ssh: section) and returns how to reach each host. */
  connector: (inventory: Inventory) => Connector
  interrupts?: InterruptSource
}

export async function runApplyFlow(opts: FlowOptions, mode: FlowMode, ui: FlowUi): Promise<FlowOutcome> {
  const {connector, interrupts = sigint, ...applyOpts} = opts
  try {
    // A preview only reports a file torn by an interrupted write; an apply puts its old bytes back first.
    const session = await prepareApply({...applyOpts, dryRun: mode.dryRun, repair: !mode.dryRun}, connector, ui.progress)
    let outcome: FlowOutcome | undefined
    try {
      outcome = await planConfirmApply(session, mode, ui, interrupts)
    } finally {
      // Bounded: a host that vanished after its work is a note, never a hang.
      const notes = await session.close()
      if (outcome) outcome = {...outcome, result: withCloseNotes(outcome.result, notes)}
      ui.closed(notes)
    }
    return outcome
  } finally {
    await ui.settle() // before an error is printed, and so no progress timer keeps the process alive
  }
}

async function planConfirmApply(session: ApplySession, mode: FlowMode, ui: FlowUi, interrupts: InterruptSource): Promise<FlowOutcome> {
  await ui.settle()
  const notes = session.loaded.notes
  const withNotes = (r: ApplyResult, dryRun: boolean): FlowResult => ({...r, dryRun, ...(notes.length ? {notes} : {})})
  const pending = session.sessions.filter((s) => s.plan && !isNoop(s.plan))
  const work = lifecycleWork(session)
  const inSync = pending.length === 0 && !work.any
  ui.planned(session, inSync)
  if (mode.dryRun || inSync) return {result: withNotes(planResult(session), mode.dryRun), interrupted: false}

  const remote = pending.length + work.remote
  if (!mode.yes && remote > 0) {
    if (!ui.confirm) throw new UserError('apply needs confirmation', 'review the plan with --dry-run, then pass --yes')
    if (!(await ui.confirm(remote))) throw new UserError('cancelled, nothing was changed')
  }
  mode.onExecute?.()
  // First Ctrl-C: finish the hosts in flight (no half-written file anywhere), start no new ones; the second quits.
  const stop = interrupts(() => {
    if (session.interrupted) process.exit(130)
    session.interrupted = true
    ui.interrupted()
  })
  const result = await executeApply(session, ui.progress).finally(async () => {
    stop()
    await ui.settle()
  })
  ui.executed(session, result)
  return {result: withNotes(result, false), interrupted: session.interrupted}
}
