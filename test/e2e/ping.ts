// Counting pings lost while something changes the mesh: `ping -i 0.05` runs from 1 s before the change until
// 1 s after it, however long the change takes, and is then stopped. A packet counts as lost only when a later one
// was answered: the last ones in flight when ping is stopped, or slow under load, are not losses of the tunnel.
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import type {Lab} from './harness.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface PingCount {
  /** Echo requests up to the last one answered. */
  sent: number
  lost: number
  maxRttMs: number
}

export async function pingDuring(lab: Lab, from: string, to: string, change: () => Promise<void>): Promise<PingCount> {
  const pidFile = join(lab.dir, `ping-${process.pid}-${Date.now()}.pid`)
  const ping = lab.exec(from, ['sh', '-c', 'echo $$ > "$1"; exec ping -n -i 0.05 -W 5 -w 600 "$2"', 'sh', pidFile, to], {timeoutMs: 660_000})
  try {
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50)
    await sleep(1000)
    await change()
    await sleep(1000)
  } finally {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0
    if (pid > 0) process.kill(pid, 'SIGINT')
    rmSync(pidFile, {force: true})
  }
  const out = (await ping).stdout
  const answered = new Set([...out.matchAll(/icmp_seq=(\d+) .*time=/g)].map((m) => Number(m[1])))
  if (!answered.size) throw new Error(`no ping from ${from} to ${to} was answered:\n${out}`)
  const last = Math.max(...answered)
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))
  return {sent: last, lost: last - answered.size, maxRttMs: Math.max(...times)}
}
