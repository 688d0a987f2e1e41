// Counting pings lost while something changes the mesh: `ping -i 0.05` runs from 1 s before the change until
// 1 s after it, however long the change takes, and is then stopped. A packet counts as lost when a later one was
// answered: the last ones in flight when ping is stopped, or slow under load, are not losses of the tunnel. But
// when no reply at all came after the change ended, the tunnel was down when the change said it was done: every
// unanswered packet up to the last one sent is lost (it had up to 1 s, not the few ms a working tunnel takes).
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import type {Lab} from './harness.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface PingCount {
  /** Echo requests up to the last one answered; up to the last one sent when the tunnel was down at the end. */
  sent: number
  lost: number
  maxRttMs: number
  /**
   * For a failure message: the lost sequence numbers as ranges, and when the change ran, both in ms since the ping
   * started (a sequence number is ~50 ms), e.g. "lost seq 41-86 (2050-4300 ms); change ran 1010-3900 ms".
   */
  timeline: string
}

/** 3,4,5,9 -> "3-5, 9". */
function ranges(seqs: number[]): string {
  const out: string[] = []
  for (let i = 0; i < seqs.length; i++) {
    let j = i
    while (j + 1 < seqs.length && seqs[j + 1] === seqs[j] + 1) j++
    out.push(i === j ? `${seqs[i]}` : `${seqs[i]}-${seqs[j]}`)
    i = j
  }
  return out.join(', ')
}

/**
 * How long the tunnel may take to answer before the count starts. The step before a change is often a cold apply,
 * and hosts brought up at the same moment can cross their WireGuard handshakes (a CI run lost pings 0-1600 ms, all
 * before the change began at 1001 ms, right after one; apply now restarts such pairs itself, tested in
 * test/e2e/apply.test.ts). A loss before the change is not the change's: the count starts from a tunnel that
 * answers, and a tunnel that does not answer within this bound fails the test here.
 */
const READY_WITHIN_S = 20

export async function pingDuring(lab: Lab, from: string, to: string, change: () => Promise<void>): Promise<PingCount> {
  const ready = await lab.exec(from, ['ping', '-n', '-q', '-c', '1', '-w', String(READY_WITHIN_S), to], {timeoutMs: (READY_WITHIN_S + 10) * 1000})
  if (ready.status !== 0) throw new Error(`${from} -> ${to}: no ping reply within ${READY_WITHIN_S} s before the change, so nothing can be counted:\n${ready.stdout}${ready.stderr}`)
  const pidFile = join(lab.dir, `ping-${process.pid}-${Date.now()}.pid`)
  // -D: each reply carries its arrival time (epoch seconds), to tell replies after the change's end.
  const ping = lab.exec(from, ['sh', '-c', 'echo $$ > "$1"; exec ping -n -D -i 0.05 -W 5 -w 600 "$2"', 'sh', pidFile, to], {timeoutMs: 660_000})
  let started = Date.now()
  let changeRan = ''
  let changeEnded = Infinity
  try {
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50)
    started = Date.now()
    await sleep(1000)
    const from = Date.now() - started
    await change()
    changeEnded = Date.now()
    changeRan = `${from}-${changeEnded - started} ms`
    await sleep(1000)
  } finally {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0
    if (pid > 0) process.kill(pid, 'SIGINT')
    rmSync(pidFile, {force: true})
  }
  const out = (await ping).stdout
  const replies = [...out.matchAll(/^\[(\d+\.\d+)\] .*icmp_seq=(\d+) .*time=([\d.]+) ms/gm)].map((m) => ({atMs: Number(m[1]) * 1000, seq: Number(m[2]), rttMs: Number(m[3])}))
  const answered = new Set(replies.map((r) => r.seq))
  if (!answered.size) throw new Error(`no ping from ${from} to ${to} was answered:\n${out}`)
  const downAtEnd = !replies.some((r) => r.atMs >= changeEnded)
  const transmitted = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0)
  const last = downAtEnd ? Math.max(transmitted, ...answered) : Math.max(...answered)
  const lostSeqs = Array.from({length: last}, (_, i) => i + 1).filter((q) => !answered.has(q))
  const at = (q: number) => (q - 1) * 50
  const lostAt = lostSeqs.length === 0 ? '' : lostSeqs.length === 1 ? ` (${at(lostSeqs[0])} ms)` : ` (${at(lostSeqs[0])}-${at(lostSeqs.at(-1)!)} ms)`
  const lastReply = `; no reply after the change ended (the last came at ${Math.round(Math.max(...replies.map((r) => r.atMs)) - started)} ms)`
  const timeline = `lost seq ${ranges(lostSeqs) || 'none'}${lostAt}; change ran ${changeRan || 'until it failed'}${downAtEnd ? lastReply : ''}`
  return {sent: last, lost: lostSeqs.length, maxRttMs: Math.max(...replies.map((r) => r.rttMs)), timeline}
}
