// Prints the ping loss through the tunnel while the mesh changes under it, on 4 lab hosts (prefix bmbp,
// 198.18.62.0/24): `ping -i 0.01 -c 1000` (10 s) from Host-1 to Host-2's WireGuard IPv4 while
//   - Host-4 is added (init + apply of the 4-host inventory; removed again between runs by applying the 3-host one),
//   - Host-2's key pair is rotated (`mesh rotate-keys Host-2 --yes`),
// 3 runs each, plus one baseline ping with no change. Figures only: nothing here asserts a loss or a timing.
// Needs root, the lab packages and dist/ (`npm run build`). Run: node --import tsx bench/peer-add.ts [runs]
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {checkLabPrerequisites, labExec} from '../src/lab/index.js'
import {BenchLab, emitBench, fmt, meshOk, printTable, withBenchLab} from './lib/common.js'

const RUNS = Number(process.argv[2]) > 0 ? Math.min(Number(process.argv[2]), 10) : 3
const COUNT = 1000
const INTERVAL = '0.01'

interface Ping {
  sent: number
  received: number
  lossPct: number
  maxRttMs: number | null
}
interface Run extends Ping {
  kind: 'baseline' | 'add Host-4' | 'rotate Host-2'
  run: number
  /** Wall time of the CLI command(s) that changed the mesh (init + apply for an add). */
  changeMs: number
  applyMs: number
  /** The change finished while the ping was still running (else the run proves less). */
  insideWindow: boolean
  removeMs?: number
}

/** The lab inventory without its last host (Host-4). */
const withoutLastHost = (inventory: string) => inventory.slice(0, inventory.lastIndexOf('  - name: '))

/** ping on Host-1 for COUNT x INTERVAL (10 s), bounded by a 30 s kill; `during` runs 0.5 s after it starts. */
async function pingDuring(lab: BenchLab, target: string, during: () => Promise<void>): Promise<Ping & {insideWindow: boolean}> {
  let done = false
  const pinging = labExec(lab.host('Host-1'), ['ping', '-q', '-n', '-i', INTERVAL, '-c', String(COUNT), '-W', '1', target], {timeoutMs: 30_000}).finally(
    () => (done = true),
  )
  let failure: unknown
  try {
    await sleep(500)
    await during()
  } catch (err) {
    failure = err
  }
  const insideWindow = !done
  const r = await pinging // bounded: COUNT x INTERVAL, killed after 30 s
  if (failure) throw failure as Error
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout)
  if (!m) throw new Error(`ping printed no summary (exit ${r.status}): ${r.stdout}${r.stderr}`)
  const rtt = /= [\d.]+\/[\d.]+\/([\d.]+)\//.exec(r.stdout)
  const sent = Number(m[1])
  const received = Number(m[2])
  return {sent, received, lossPct: sent ? (100 * (sent - received)) / sent : 0, maxRttMs: rtt ? Number(rtt[1]) : null, insideWindow}
}

async function main() {
  const p = checkLabPrerequisites()
  if (!p.ok) {
    console.log(`bench/peer-add: skipped: ${p.reason}`)
    emitBench('peer-add', {skipped: p.reason})
    return
  }
  const runs = await withBenchLab(4, async (lab) => {
    const full = lab.result.inventory
    const three = join(lab.dir, 'mesh3.yaml') // beside the lab's key and known_hosts: relative paths hold
    writeFileSync(three, withoutLastHost(readFileSync(full, 'utf8')))
    const state = ['--state', join(lab.dir, 'state')]
    const out = ['--out', join(lab.dir, 'out')]
    const opts = {home: lab.home, timeoutMs: 180_000}
    const init = await meshOk(['init', '-i', three, ...state, ...out, '--json'], opts)
    const host2 = (JSON.parse(init.stdout).hosts as {name: string; ipv4: string}[]).find((h) => h.name === 'Host-2')!.ipv4
    await meshOk(['apply', '-i', three, ...state, '--yes', '--json'], opts)
    // One handshake before measuring, so the first run does not pay for it.
    await labExec(lab.host('Host-1'), ['ping', '-q', '-c', '3', '-i', '0.2', '-W', '2', host2], {timeoutMs: 15_000})

    const results: Run[] = []
    const base = await pingDuring(lab, host2, async () => {})
    results.push({kind: 'baseline', run: 1, ...base, changeMs: 0, applyMs: 0})
    console.error(`bench/peer-add: baseline ${base.received}/${base.sent}`)

    for (let i = 1; i <= RUNS; i++) {
      let changeMs = 0
      let applyMs = 0
      const ping = await pingDuring(lab, host2, async () => {
        const a = await meshOk(['init', '-i', full, ...state, ...out, '--json'], opts)
        const b = await meshOk(['apply', '-i', full, ...state, '--yes', '--json'], opts)
        changeMs = a.ms + b.ms
        applyMs = b.ms
      })
      const removed = await meshOk(['apply', '-i', three, ...state, '--yes', '--json'], opts)
      results.push({kind: 'add Host-4', run: i, ...ping, changeMs, applyMs, removeMs: removed.ms})
      console.error(`bench/peer-add: add run ${i}: ${ping.received}/${ping.sent}, apply ${fmt(applyMs)}`)
    }
    for (let i = 1; i <= RUNS; i++) {
      let changeMs = 0
      const ping = await pingDuring(lab, host2, async () => {
        changeMs = (await meshOk(['rotate-keys', 'Host-2', '-i', three, ...state, '--yes', '--json'], opts)).ms
      })
      results.push({kind: 'rotate Host-2', run: i, ...ping, changeMs, applyMs: changeMs})
      console.error(`bench/peer-add: rotate run ${i}: ${ping.received}/${ping.sent}, rotate ${fmt(changeMs)}`)
    }
    return results
  })

  const total = (kind: Run['kind']) => {
    const rs = runs.filter((r) => r.kind === kind)
    const sent = rs.reduce((s, r) => s + r.sent, 0)
    const received = rs.reduce((s, r) => s + r.received, 0)
    return {
      runs: rs.length,
      sent,
      received,
      lossPct: sent ? (100 * (sent - received)) / sent : 0,
      maxRttMs: Math.max(...rs.map((r) => r.maxRttMs ?? 0)),
      changeMsMax: Math.round(Math.max(...rs.map((r) => r.applyMs))),
      allInsideWindow: rs.every((r) => r.insideWindow),
    }
  }
  console.log(`ping -i ${INTERVAL} -c ${COUNT} Host-1 -> Host-2 (WireGuard IPv4) on lab hosts while the mesh changes (node ${process.version})`)
  console.log('"change" = wall time of the CLI: apply (init + apply in brackets) for an add, rotate-keys for a rotation')
  const pct = (x: number) => `${x.toFixed(2)}%`
  const rtt = (x: number | null) => (x === null ? '-' : `${x.toFixed(1)} ms`)
  printTable([
    ['change', 'run', 'sent', 'received', 'loss', 'max RTT', 'change', 'done while pinging', 'remove Host-4 again'],
    ...runs.map((r) => [
      r.kind,
      String(r.run),
      String(r.sent),
      String(r.received),
      pct(r.lossPct),
      rtt(r.maxRttMs),
      r.kind === 'baseline' ? '-' : r.kind === 'add Host-4' ? `${fmt(r.applyMs)} (${fmt(r.changeMs)})` : fmt(r.changeMs),
      r.kind === 'baseline' ? '-' : r.insideWindow ? 'yes' : 'NO (ping ended first)',
      r.removeMs === undefined ? '' : fmt(r.removeMs),
    ]),
    ...(['add Host-4', 'rotate Host-2'] as const).map((k) => {
      const t = total(k)
      return [`${k}: total`, `${t.runs}`, String(t.sent), String(t.received), pct(t.lossPct), rtt(t.maxRttMs), `max ${fmt(t.changeMsMax)}`, t.allInsideWindow ? 'yes' : 'NOT ALL', '']
    }),
  ])
  emitBench('peer-add', {
    runs: runs.map((r) => ({kind: r.kind, run: r.run, sent: r.sent, received: r.received, lossPct: +r.lossPct.toFixed(2), maxRttMs: r.maxRttMs, changeMs: Math.round(r.applyMs), insideWindow: r.insideWindow})),
    add: total('add Host-4'),
    rotate: total('rotate Host-2'),
    baseline: runs.find((r) => r.kind === 'baseline'),
  })
}

await main()
