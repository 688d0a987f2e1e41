// Rendering plans and results for people: per host, what changes, how, and a diff with secrets masked.
import {structuredPatch} from 'diff'

import {FileChange, HostPlan, isNoop} from '../core/plan.js'
import {redactSecrets} from '../core/wgconf.js'
import type {ApplyResult, HostSession} from '../services/apply.js'

export interface Style {
  red(s: string): string
  green(s: string): string
  yellow(s: string): string
  bold(s: string): string
  dim(s: string): string
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`
export const plainStyle: Style = {red: (s) => s, green: (s) => s, yellow: (s) => s, bold: (s) => s, dim: (s) => s}
export const colorStyle: Style = {red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), bold: wrap(1, 22), dim: wrap(2, 22)}

/** A unified diff of one file; secret values never appear, only that they changed. */
export function renderFileDiff(change: FileChange, style: Style): string[] {
  const before = change.before ?? ''
  const show = (s: string) => (change.secret ? redactSecrets(s) : s)
  const patch = structuredPatch(change.path, change.path, show(before), show(change.after), '', '', {context: 2})
  const out: string[] = []
  for (const hunk of patch.hunks) {
    out.push(style.dim(`      @@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`))
    for (const line of hunk.lines) {
      if (line.startsWith('\\')) continue
      const colored = line.startsWith('+') ? style.green(line) : line.startsWith('-') ? style.red(line) : line
      out.push(`      ${colored}`)
    }
  }
  if (change.secret && show(before) === show(change.after) && before !== change.after) out.push('      (a secret value changes)')
  return out
}

export function renderHostPlan(plan: HostPlan, style: Style, withDiff: boolean): string[] {
  if (isNoop(plan)) return [`${style.bold(plan.name)}: no changes`]
  const lines = [`${style.bold(plan.name)}:`]
  for (const f of plan.files) {
    lines.push(`  ${f.kind === 'create' ? style.green('+') : style.yellow('~')} ${f.path}${f.kind === 'create' ? ' (new)' : ''}`)
    if (withDiff) lines.push(...renderFileDiff(f, style))
  }
  if (plan.iface.kind !== 'none') {
    const label = plan.disruptive ? style.red(`DISRUPTIVE: ${plan.iface.reason}`) : plan.iface.reason
    lines.push(`  > ${label}`)
  }
  if (plan.enableUnit) lines.push('  > enable the wg-quick systemd unit (start at boot)')
  return lines
}

export function renderPlan(sessions: HostSession[], style: Style, withDiff = true): string {
  const lines: string[] = []
  for (const s of sessions) {
    if (s.plan) lines.push(...renderHostPlan(s.plan, style, withDiff))
    else lines.push(`${style.bold(s.host.name)}: ${style.red(`unreachable: ${s.error ?? 'unknown error'}`)}`)
  }
  return lines.join('\n')
}

export function renderResult(result: ApplyResult, style: Style): string {
  const width = Math.max(...result.hosts.map((h) => h.name.length), 4)
  const lines = result.hosts.map((h) => {
    const status = ['failed', 'restored', 'unreachable'].includes(h.status) ? style.red(h.status) : h.status === 'changed' ? style.green(h.status) : h.status
    const detail = h.error ? `: ${h.error}` : h.iface !== 'none' ? ` (${h.iface})` : ''
    return `  ${h.name.padEnd(width)}  ${status}${detail}${h.notes.length ? `\n${h.notes.map((n) => `  ${' '.repeat(width)}  note: ${n}`).join('\n')}` : ''}`
  })
  lines.push(`${result.changed} changed, ${result.hosts.length - result.changed - result.failed} unchanged, ${result.failed} failed`)
  return lines.join('\n')
}
