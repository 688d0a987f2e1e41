// Per-host progress on stderr (never stdout: stdout is for the result, and --json). A terminal gets a
// listr2 board (a spinner per phase, one line per host updated in place); anything else gets plain lines.
// Services only emit ApplyProgress events; drawing (and when to stop drawing) is decided here.
import {DefaultRenderer, Listr, ListrLogger, ProcessOutput} from 'listr2'

import {escapeForTerminal} from '../core/display.js'
import type {ApplyProgress} from '../services/apply-types.js'

/** ApplyProgress plus what only the UI calls: finish drawing before anything else is printed. */
export interface UiProgress extends ApplyProgress {
  /** Ends the board of the current phase, if any. Await it before writing to stdout or prompting. */
  settle(): Promise<void>
}

export function stderrProgress(enabled: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): UiProgress {
  const settle = async () => {}
  if (!enabled) return {step() {}, settle}
  const width = {n: 8}
  return {
    step(host, message) {
      width.n = Math.max(width.n, host.length)
      write(`[${host.padEnd(width.n)}] ${escapeForTerminal(message)}\n`)
    },
    settle,
  }
}

/** The board: the last message of each host, in the order hosts first reported. Pure. */
export function hostBoard(last: Map<string, string>): string {
  const width = Math.max(8, ...[...last.keys()].map((h) => h.length))
  return [...last].map(([host, message]) => `${host.padEnd(width)}  ${message}`).join('\n')
}

/** listr2 draws only when stdout is a TTY unless a renderer says otherwise: ours draws on stderr. */
class StderrRenderer extends DefaultRenderer {
  static override nonTTY = true
}

const PHASES = ['Connecting and gathering facts', 'Applying']

/**
 * A listr2 board on `stream` (stderr). A phase starts with the first event after settle(); its single
 * task shows the board as its output and ends at settle(), leaving the final board on the terminal.
 */
export function listrProgress(stream: NodeJS.WriteStream = process.stderr, titles: string[] = PHASES): UiProgress {
  let phase = 0
  let current: {last: Map<string, string>; redraw: () => void; finish: () => void; run: Promise<unknown>} | null = null

  const start = () => {
    const last = new Map<string, string>()
    const title = titles[Math.min(phase, titles.length - 1)]
    phase++
    let finish!: () => void
    const finished = new Promise<void>((resolve) => (finish = resolve))
    let redraw = () => {}
    // Both of listr2's streams are `stream`: nothing it draws or buffers can reach stdout.
    const logger = new ListrLogger({useIcons: true, processOutput: new ProcessOutput(stream, stream, {leaveEmptyLine: false})})
    const listr = new Listr(
      [
        {
          title,
          task: async (_ctx, task) => {
            redraw = () => (task.output = hostBoard(last))
            redraw()
            await finished
            task.title = `${title}: ${last.size} host(s)`
          },
          rendererOptions: {persistentOutput: true, outputBar: 1},
        },
      ],
      // Ctrl-C belongs to the apply flow (finish hosts in flight), not to listr2.
      {renderer: StderrRenderer, rendererOptions: {logger}, registerSignalListeners: false, exitOnError: false},
    )
    const run = listr.run().catch(() => undefined)
    current = {last, redraw: () => redraw(), finish, run}
    return current
  }

  return {
    step(host, message) {
      const p = current ?? start()
      p.last.set(host, escapeForTerminal(message))
      p.redraw()
    },
    async settle() {
      if (!current) return
      const p = current
      current = null
      p.finish()
      await p.run
    },
  }
}

/** What `mesh apply` shows: nothing under --json, the board on a terminal, plain lines otherwise. */
export function applyProgress(json: boolean, stream: NodeJS.WriteStream = process.stderr): UiProgress {
  if (json) return stderrProgress(false)
  return stream.isTTY ? listrProgress(stream) : stderrProgress(true, (s) => stream.write(s))
}
