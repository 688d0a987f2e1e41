// Rendering plans and results for people: per host, what changes, how, and a diff with secrets masked.
import {structuredPatch} from 'diff'

import {escapeForTerminal as esc} from '../core/display.js'
import {FileChange, HOSTS_PATH, HostPlan, isNoop} from '../core/plan.js'
import {describePeerDelta, describeTeardown, peerDelta} from '../core/teardown.js'
import {redactSecrets} from '../core/wgconf.js'
import {commandLine} from '../remote/transport.js'
import type {ApplyResult, HostSession} from '../services/apply-types.js'
import type {TeardownSession} from '../services/teardown.js'

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
  // A wg config keeps its structure with the key values masked; any other secret file (the cookie) is
  // nothing but the secret, so every line of it is masked.
  const mask = (s: string) => (change.path.endsWith('.conf') ? redactSecrets(s) : s.replace(/^.+$/gm, '(secret)'))
  const show = (s: string) => (change.secret ? mask(s) : s)
  const patch = structuredPatch(change.path, change.path, show(before), show(change.after), '', '', {context: 2})
  const out: string[] = []
  for (const hunk of patch.hunks) {
    out.push(style.dim(`      @@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`))
    for (let line of hunk.lines) {
      if (line.startsWith('\\')) continue
      // The old side is the host's bytes: an ESC sequence in them must show, not act.
      line = esc(line)
      const colored = line.startsWith('+') ? style.green(line) : line.startsWith('-') ? style.red(line) : line
      out.push(`      ${colored}`)
    }
  }
  if (change.secret && show(before) === show(change.after) && before !== change.after) out.push('      (a secret value changes)')
  return out
}

const octal = (m: number) => `0${m.toString(8)}`

/** "owner root -> nobody, mode 0600 -> 0400", or '' when neither changes (or a file is new). */
function metaChange(f: FileChange): string {
  if (!f.beforeMeta) return ''
  const owner = f.owner ?? 'root'
  return [
    f.beforeMeta.owner !== owner ? `owner ${f.beforeMeta.owner} -> ${owner}` : '',
    f.beforeMeta.mode !== f.mode ? `mode ${octal(f.beforeMeta.mode)} -> ${octal(f.mode)}` : '',
  ].filter(Boolean).join(', ')
}

/** Why lines outside the block change: each neutralized line with the names it mapped elsewhere, each restored one. */
function hostsLineNotes(plan: HostPlan, style: Style): string[] {
  const n = plan.hostsLines?.neutralized ?? []
  const r = plan.hostsLines?.restored ?? []
  return [
    ...n.map((l) => `    ${style.yellow(`neutralize line ${l.line}: it maps ${l.names.join(', ')} to ${l.address}, not the mesh address`)}: ${esc(JSON.stringify(l.text))}`),
    ...r.map((t) => `    ${style.yellow('restore a line no longer in conflict with the mesh')}: ${esc(JSON.stringify(t))}`),
  ]
}

export function renderHostPlan(plan: HostPlan, style: Style, withDiff: boolean): string[] {
  const notes = (plan.notes ?? []).map((n) => `  ${style.yellow(`note: ${n}`)}`)
  if (isNoop(plan)) return [`${style.bold(plan.name)}: no changes`, ...notes]
  const lines = [`${style.bold(plan.name)}:`, ...notes]
  for (const f of plan.files) {
    if (f.kind === 'delete') {
      lines.push(`  ${style.red('-')} ${f.path} (no longer managed)`)
      if (f.deactivate) lines.push(`  > ${commandLine(f.deactivate)} (undo its activation)`)
      continue
    }
    const meta = metaChange(f)
    const link = f.linkTarget ? ` (a symlink: written through to ${f.linkTarget}, the link stays)` : ''
    lines.push(`  ${f.kind === 'create' ? style.green('+') : style.yellow('~')} ${f.path}${f.kind === 'create' ? ' (new)' : ''}${meta ? ` (${meta})` : ''}${link}`)
    const peers = f.path.endsWith('.conf') && f.secret && f.before !== null ? describePeerDelta(peerDelta(f.before, f.after)) : null
    if (peers) lines.push(`    ${style.yellow(peers)}`)
    if (f.path === HOSTS_PATH) lines.push(...hostsLineNotes(plan, style))
    if (withDiff) lines.push(...renderFileDiff(f, style))
  }
  if (plan.iface.kind !== 'none') {
    const label = plan.disruptive ? style.red(`DISRUPTIVE: ${plan.iface.reason}`) : plan.iface.reason
    lines.push(`  > ${label}`)
  }
  if (plan.enableUnit) lines.push('  > enable the wg-quick systemd unit (start at boot)')
  for (const r of plan.reactivate) lines.push(`  > ${r.activate.join(' ')} (${r.path} is in place but not in effect)`)
  return lines
}

export function renderPlan(sessions: HostSession[], style: Style, withDiff = true, teardowns: TeardownSession[] = []): string {
  const lines: string[] = []
  for (const s of sessions) {
    if (s.plan) lines.push(...renderHostPlan(s.plan, style, withDiff))
    // Connected but no plan (broken markers, sudo): failed; no connection: unreachable.
    else lines.push(`${style.bold(s.host.name)}: ${style.red(`${s.remote ? 'failed' : 'unreachable'}: ${esc(s.error ?? 'unknown error')}`)}`)
  }
  for (const t of teardowns) {
    const what = t.plan && t.remote ? describeTeardown(t.plan, t.remote.iface)
      : t.remote ? style.red(`failed: ${esc(t.error ?? 'unknown error')}`) : style.yellow(`unreachable, teardown postponed: ${esc(t.error ?? 'unknown error')}`)
    lines.push(`${style.bold(t.archived.name)} (removed from the inventory): ${t.plan?.steps.length ? style.red(what) : what}`)
  }
  return lines.join('\n')
}

export function renderResult(result: ApplyResult, style: Style): string {
  const width = Math.max(...result.hosts.map((h) => h.name.length), 4)
  const lines = result.hosts.map((h) => {
    const status = ['failed', 'restored', 'unreachable', 'skipped'].includes(h.status) ? style.red(h.status) : h.status === 'changed' ? style.green(h.status) : h.status
    const detail = h.error ? `: ${esc(h.error)}` : h.iface !== 'none' ? ` (${h.iface})` : ''
    return `  ${h.name.padEnd(width)}  ${status}${detail}${h.notes.length ? `\n${h.notes.map((n) => `  ${' '.repeat(width)}  note: ${esc(n)}`).join('\n')}` : ''}`
  })
  for (const t of result.teardowns ?? []) {
    const status = t.status === 'failed' || t.status === 'unreachable' || t.status === 'skipped' ? style.red(t.status) : style.green(t.status)
    lines.push(`  ${t.name.padEnd(width)}  ${status} (removed from the inventory)${t.error ? `: ${esc(t.error)}` : ''}`)
  }
  if (result.rotation) {
    const r = result.rotation
    const what = [r.hosts.length ? `keys of ${r.hosts.join(', ')}` : '', r.psks ? `${r.psks} preshared key(s)` : ''].filter(Boolean).join(' and ')
    lines.push(r.committed ? `rotation of ${what}: done, new keys committed` : style.red(`rotation of ${what}: NOT finished: ${esc(r.reason ?? '')}`))
  }
  for (const w of result.warnings ?? []) lines.push(style.yellow(`warning: ${esc(w)}`))
  lines.push(`${result.changed} changed, ${result.hosts.length - result.changed - result.failed} unchanged, ${result.failed} failed`)
  return lines.join('\n')
}
