// The apply flow's UI (services/apply-flow.ts runs the flow): the plan, the question, the Ctrl-C notice and the
// result, on stdout through `log` (silent under --json) and progress on stderr. Renders and asks, nothing else.
import {escapeForTerminal} from '../core/display.js'
import type {FlowUi} from '../services/apply-flow.js'
import {confirm} from './confirm.js'
import {colorStyle, plainStyle, renderPlan, renderResult} from './plan.js'
import {applyProgress} from './progress.js'
import {unreachedLine} from './reach.js'

export interface FlowUiOptions {
  json: boolean
  /** Show file diffs in the plan (--diff). */
  diff: boolean
  log: (text: string) => void
}

export function applyFlowUi(o: FlowUiOptions): FlowUi {
  const style = !o.json && process.stdout.isTTY ? colorStyle : plainStyle
  // A listr2 board when stderr is a terminal, plain `[host] message` lines otherwise; never on stdout.
  const progress = applyProgress(o.json)
  return {
    progress,
    settle: () => progress.settle(),
    planned(session, inSync) {
      for (const n of session.loaded.notes) o.log(`note: ${escapeForTerminal(n)}`)
      o.log(renderPlan(session.sessions, style, o.diff, session.teardowns))
      const missed = unreachedLine(session.sessions, 'planned')
      if (missed) o.log(style.red(missed))
      // "Nothing to change" only when every selected host was reached and is in sync.
      if (!inSync) return
      if (!missed) o.log('Nothing to change.')
      else if (session.sessions.some((s) => s.plan)) o.log('The other hosts are in sync.')
    },
    ...(process.stdin.isTTY && !o.json ? {confirm: (hosts: number) => confirm(`Apply these changes to ${hosts} host(s)?`)} : {}),
    interrupted() {
      process.stderr.write('\ninterrupted: finishing hosts in progress, starting no new ones (Ctrl-C again to quit now)\n')
    },
    executed(session, result) {
      const notApplied = unreachedLine(session.sessions, 'applied')
      o.log(`${notApplied ? `${style.red(notApplied)}\n` : ''}${renderResult(result, style)}`)
    },
    closed(notes) {
      for (const n of notes) o.log(`note: ${n.name}: ${n.note}`)
    },
  }
}
