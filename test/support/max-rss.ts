// A node process with report-max-rss.mjs preloaded (plain JavaScript: no TypeScript hooks in the measured process),
// and the peak RSS it reported. Used by the init memory test and the init bench.
import {SpawnSyncReturns, spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const REPORT_MAX_RSS = fileURLToPath(new URL('report-max-rss.mjs', import.meta.url))

export interface MeasuredRun {
  res: SpawnSyncReturns<string>
  /** null: the process reported nothing (it died before its exit handlers ran). */
  maxRssMiB: number | null
}

/** `node ...nodeFlags --import report-max-rss.mjs ...args`, synchronously. */
export function spawnMeasured(nodeFlags: string[], args: string[], opts: {timeoutMs: number; maxBuffer: number}): MeasuredRun {
  const res = spawnSync(process.execPath, [...nodeFlags, '--import', REPORT_MAX_RSS, ...args], {encoding: 'utf8', timeout: opts.timeoutMs, maxBuffer: opts.maxBuffer})
  const reported = /^max-rss-kib (\d+)$/m.exec(res.stderr ?? '')
  return {res, maxRssMiB: reported ? Number(reported[1]) / 1024 : null}
}
