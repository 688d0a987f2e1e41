// Preloaded (`node --import`) into a process whose peak memory a test or bench reads: on exit it writes
// `max-rss-kib N` to stderr. Plain JavaScript on purpose: the measured process loads no TypeScript hooks.
// The figure is VmHWM, the peak RSS of this process's own memory. getrusage's maxRSS is not: Linux keeps it across
// fork and exec, so a process started by a big parent (the init bench, after its in-process runs of 1000 hosts)
// reported that parent's peak, 217 MiB for a CLI whose own peak was 120 MiB.
import {readFileSync} from 'node:fs'

function peakKib() {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (m) return Number(m[1])
  } catch {
    // not Linux: getrusage's figure is all there is
  }
  return process.resourceUsage().maxRSS
}

process.on('exit', () => {
  process.stderr.write(`\nmax-rss-kib ${peakKib()}\n`)
})
