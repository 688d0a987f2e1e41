// A node process with report-max-rss.mjs preloaded (plain JavaScript: no TypeScript hooks in the measured process),
// and the peak RSS it reported. Used by the init memory test and the init bench.
// A process that outlives its timeout is described before it is killed: where each of its threads waits
// (/proc/PID/task/*/wchan) and what it had printed. A child of this kind hung idle twice on the development
// machine (once in a test, once in the bench) and never in 140 runs of a loop: the next one must say where.
import {spawn} from 'node:child_process'
import {readFileSync, readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const REPORT_MAX_RSS = fileURLToPath(new URL('report-max-rss.mjs', import.meta.url))

export interface MeasuredRun {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** null: the process reported nothing (it died before its exit handlers ran). */
  maxRssMiB: number | null
  /** Set when the timeout killed it: its threads' wait channels and how much it had printed. */
  hung?: string
}

/** Each thread of a live process, "name: wait channel" (Linux); empty when /proc has nothing. */
function threadWaits(pid: number): string {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map((t) => {
        const read = (f: string) => readFileSync(`/proc/${pid}/task/${t}/${f}`, 'utf8').trim()
        return `${read('comm')}: ${read('wchan') || 'running'}`
      })
      .join('; ')
  } catch {
    return ''
  }
}

/** `node ...nodeFlags --import report-max-rss.mjs ...args`. */
export function spawnMeasured(nodeFlags: string[], args: string[], opts: {timeoutMs: number}): Promise<MeasuredRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', REPORT_MAX_RSS, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let hung: string | undefined
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      hung = `still running after ${opts.timeoutMs} ms, ${stdout.length} bytes on stdout and ${stderr.length} on stderr; threads: ${threadWaits(child.pid!)}`
      child.kill('SIGKILL')
    }, opts.timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      const reported = /^max-rss-kib (\d+)$/m.exec(stderr)
      resolve({status, signal, stdout, stderr, maxRssMiB: reported ? Number(reported[1]) / 1024 : null, ...(hung ? {hung} : {})})
    })
  })
}
