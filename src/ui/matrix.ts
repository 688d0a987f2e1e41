// Plain-text N×N matrix for `mesh doctor`: rows = from, columns = to, the diagonal = the host's
// own checks. Each cell starts with a one-character mark, so the verdict survives without colour
// (pipes, CI logs, --no-color); colour is only added on top when the caller says the output is a TTY.
import {escapeForTerminal as esc} from '../core/display.js'
import type {Cell, DoctorReport, Finding, Verdict} from '../core/doctor-report.js'

export interface MatrixOptions {
  color: boolean
  /** Longest cell label before it is cut with "…". */
  maxCell?: number
}

const MARK: Record<Verdict, string> = {ok: ' ', warn: '!', fail: 'x', unknown: '?'}
const ANSI: Record<Verdict, string> = {ok: '\u001b[32m', warn: '\u001b[33m', fail: '\u001b[31m', unknown: '\u001b[2m'}
const RESET = '\u001b[0m'
const CORNER = 'from \\ to'

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s
}

/** The visible text of a cell, diagonal in brackets so a host's self-check reads differently from a link. */
export function cellText(cell: Cell, diagonal: boolean, maxCell = 12): string {
  const label = cut(esc(cell.label), maxCell)
  return `${MARK[cell.verdict]} ${diagonal ? `[${label}]` : label}`
}

export function renderMatrix(report: Pick<DoctorReport, 'hosts' | 'matrix'>, opts: MatrixOptions): string {
  const maxCell = opts.maxCell ?? 12
  const names = report.hosts.map((h) => cut(h, 20))
  const texts = report.matrix.map((row, i) => row.map((c, j) => cellText(c, i === j, maxCell)))
  const firstWidth = Math.max(CORNER.length, ...names.map((n) => n.length))
  const colWidth = names.map((n, j) => Math.max(n.length, ...texts.map((row) => row[j].length)))
  const paint = (text: string, v: Verdict) => (opts.color ? `${ANSI[v]}${text}${RESET}` : text)
  const lines: string[] = []
  lines.push([CORNER.padEnd(firstWidth), ...names.map((n, j) => n.padEnd(colWidth[j]))].join('  ').trimEnd())
  report.matrix.forEach((row, i) => {
    const cells = row.map((c, j) => paint(texts[i][j].padEnd(colWidth[j]), c.verdict))
    const line = [names[i].padEnd(firstWidth), ...cells].join('  ')
    lines.push(opts.color ? line : line.trimEnd())
  })
  lines.push('')
  lines.push('x = fail   ! = warn   ? = not checked   [..] = the host itself')
  return lines.join('\n') + '\n'
}

/** Findings as indented text under the matrix: message, then the fix. No colour unless asked. */
export function renderFindings(report: {findings: readonly (Omit<Finding, 'check'> & {check: string})[]}, opts: MatrixOptions): string {
  if (report.findings.length === 0) return 'All checks passed.\n'
  const sev = {critical: 'CRITICAL', fail: 'FAIL', warn: 'WARN'} as const
  const colour = {critical: ANSI.fail, fail: ANSI.fail, warn: ANSI.warn} as const
  return report.findings
    .map((x) => {
      const head = `${sev[x.severity]} ${x.host}${x.peer ? ` -> ${x.peer}` : ''} (${x.check})`
      return `${opts.color ? `${colour[x.severity]}${head}${RESET}` : head}: ${esc(x.message)}\n    fix: ${esc(x.hint)}\n`
    })
    .join('')
}
