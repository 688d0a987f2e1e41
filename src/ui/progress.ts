// Per-host progress lines on stderr (never stdout: stdout is for the result, and --json).
import type {ApplyProgress} from '../services/apply.js'

export function stderrProgress(enabled: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): ApplyProgress {
  if (!enabled) return {step() {}}
  const width = {n: 8}
  return {
    step(host, message) {
      width.n = Math.max(width.n, host.length)
      write(`[${host.padEnd(width.n)}] ${message}\n`)
    },
  }
}
