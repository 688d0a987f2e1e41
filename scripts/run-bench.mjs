// `npm run bench`: every bench/*.ts in sequence (one at a time, so they do not skew each other's figures), each
// through `node --import tsx`, its output shown as it comes. Each bench ends with a machine-readable line
// `BENCH {json}`; those are collected and printed at the end as one summary table. Figures only: nothing asserts a
// timing. Exits non-zero if a bench failed. `npm run bench -- doctor apply` runs only the named benches.
import {spawn} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {availableParallelism, loadavg} from 'node:os'
import {join} from 'node:path'

const only = process.argv.slice(2)
const benches = readdirSync('bench')
  .filter((f) => f.endsWith('.ts'))
  .filter((f) => !only.length || only.includes(f.replace(/\.ts$/, '')))
  .sort()

let current = null
// Ctrl-C reaches the bench (same process group) and it takes its lab down; a signal sent to this runner alone is
// passed on. Either way the runner waits for the bench to exit instead of leaving a lab behind.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted = true
    if (current && current.exitCode === null) current.kill(sig)
  })
}
let interrupted = false

function run(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('bench', file)], {stdio: ['ignore', 'pipe', 'inherit']})
    current = child
    const lines = []
    let partial = ''
    child.stdout.setEncoding('utf8').on('data', (d) => {
      process.stdout.write(d)
      const parts = (partial + d).split('\n')
      partial = parts.pop()
      lines.push(...parts)
    })
    child.on('close', (status, signal) => {
      if (partial) lines.push(partial)
      current = null
      resolve({status, signal, lines})
    })
  })
}

const started = new Date()
const load = loadavg().map((x) => x.toFixed(2)).join(' ')
const results = []
const failed = []
for (const b of benches) {
  if (interrupted) break
  console.log(`\n== bench/${b}`)
  const t0 = performance.now()
  const res = await run(b)
  const ms = performance.now() - t0
  const data = res.lines.filter((l) => l.startsWith('BENCH ')).map((l) => {
    try {
      return JSON.parse(l.slice(6))
    } catch {
      return undefined
    }
  }).filter(Boolean)
  if (res.status !== 0) {
    console.error(`bench/${b} exited ${res.status ?? res.signal}`)
    failed.push(b)
  }
  results.push({file: b, ms, status: res.status ?? res.signal, data})
}

// ---- summary
const fmt = (ms) => (ms === undefined || ms === null ? '-' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`)
const hostsLabel = (n) => `${n} host${n === 1 ? '' : 's'}`
const rtt = (x) => (x === null || x === undefined ? '-' : `${Number(x).toFixed(1)} ms`)
/** The 1-minute load average a bench recorded after that size (the machine is shared). */
const loadNote = (x) => (x.load1 === undefined ? '' : `, load ${Number(x.load1).toFixed(1)}`)
const ratio = (x) => (x === undefined ? '' : `x${Number(x).toFixed(2)}`)
const rows = [['bench', 'case', 'figure', 'x 1 host', 'notes']]
const find = (name) => results.flatMap((r) => r.data).find((d) => d.bench === name)

for (const r of results) {
  const name = r.file.replace(/\.ts$/, '')
  if (!r.data.length) rows.push([name, '-', r.status === 0 ? 'no BENCH line' : `FAILED (exit ${r.status})`, '', ''])
  for (const d of r.data) if (d.skipped) rows.push([d.bench, '-', 'skipped', '', d.skipped])
}

const startup = find('startup')
if (startup && !startup.skipped) rows.push(['startup', 'mesh --version', `${fmt(startup.medianMs)} median`, '', `min ${fmt(startup.minMs)}, p90 ${fmt(startup.p90Ms)}, ${startup.runs} runs`])

const init = find('init')
if (init && !init.skipped) {
  for (const x of init.rows) {
    const floor = x.writeFloorMs ? `, write floor ${fmt(x.writeFloorMs)} (x${(x.coldMs / x.writeFloorMs).toFixed(2)})` : ''
    rows.push(['init', `${x.hosts} hosts`, `${fmt(x.coldMs)} cold`, '', `re-run ${fmt(x.rerunMs)} (${x.rerunWritten} written), ${x.written} files cold${floor}`])
  }
  const x = init.ramFs
  if (x) rows.push(['init', `${x.hosts} hosts, RAM file system`, `${fmt(x.coldMs)} cold`, '', `re-run ${fmt(x.rerunMs)}, write floor ${fmt(x.writeFloorMs)} (x${(x.coldMs / x.writeFloorMs).toFixed(2)})`])
  rows.push(['init', 'CLI re-run, 10 hosts', String(init.cliInitRerun10), '', 'median of 3'])
  for (const m of init.memory ?? []) rows.push(['init', `${m.hosts} hosts, own process`, `${m.maxRssMiB} MiB peak RSS`, '', `cold ${fmt(m.coldMs)}, re-run ${fmt(m.rerunMs)}`])
}

const apply = find('apply')
if (apply && !apply.skipped) {
  // Rows from before the floor (no coldVsFloor) keep their old columns.
  const vs = (x, k) => (x[k] === undefined ? '' : `, floor ${fmt(x[k === 'coldVsFloor' ? 'floorColdMs' : 'floorNoopMs'])}, mesh/floor x${Number(x[k]).toFixed(2)}`)
  for (const x of apply.rows) rows.push(['apply', `${hostsLabel(x.hosts)} cold`, fmt(x.coldMs), ratio(x.coldRatio ?? x.coldMs / apply.rows[0].coldMs), `lab up ${fmt(x.upMs)}, init ${fmt(x.initMs)}${vs(x, 'coldVsFloor')}${loadNote(x)}`])
  const checked = (x) => (x.noopVsCheckedFloor === undefined ? '' : `, checked floor ${fmt(x.floorNoopCheckedMs)}, x${Number(x.noopVsCheckedFloor).toFixed(2)}`)
  for (const x of apply.rows) rows.push(['apply', `${hostsLabel(x.hosts)} no-op re-apply`, fmt(x.noopMs), ratio(x.noopRatio ?? x.noopMs / apply.rows[0].noopMs), `${vs(x, 'noopVsFloor').replace(/^, /, '')}${checked(x)}${loadNote(x)}`.replace(/^, /, '')])
}

const doctor = find('doctor')
if (doctor && !doctor.skipped) {
  for (const x of doctor.rows) {
    const ok = x.healthy.filter(Boolean).length
    const floor = x.vsFloor === undefined ? '' : `; ping sweep ${fmt(x.floorMs)}, mesh/floor x${Number(x.vsFloor).toFixed(2)}`
    const vmFloor = x.vsVmFloor === undefined ? '' : `; sweep + 1 VM ${fmt(x.vmFloorMs)}, x${Number(x.vsVmFloor).toFixed(2)}`
    const checkedFloor = x.vsCheckedFloor === undefined ? '' : `; checked floor ${fmt(x.checkedFloorMs)}, x${Number(x.vsCheckedFloor).toFixed(2)}`
    // A floor run that failed has no figure (null): its median is of the runs that passed, and says how many failed.
    const failedFloors = [x.sweepsMs, x.vmSweepsMs, x.checkedRunsMs].flat().filter((v) => v === null).length
    const failedNote = failedFloors ? `; ${failedFloors} floor run(s) failed` : ''
    rows.push(['doctor', hostsLabel(x.hosts), `${fmt(x.medianMs)} median`, ratio(x.ratio), `runs ${x.runsMs.map(fmt).join(' / ')}; healthy ${ok}/${x.healthy.length}${floor}${vmFloor}${checkedFloor}${failedNote}${loadNote(x)}`])
  }
  for (const n of doctor.failedSizes ?? []) rows.push(['doctor', hostsLabel(n), 'FAILED', '', 'the size did not finish (the bench printed why)'])
}

// mesh/floor side by side: the ratios this project's speed targets are stated in.
const floorRows = [['hosts', 'apply cold', 'apply no-op', 'no-op vs checked floor', 'doctor', 'doctor vs sweep + 1 VM', 'doctor vs checked floor']]
for (const n of [...new Set([...(apply?.rows ?? []), ...(doctor?.rows ?? [])].map((x) => x.hosts))].sort((a, b) => a - b)) {
  const a = apply?.rows?.find((x) => x.hosts === n)
  const d = doctor?.rows?.find((x) => x.hosts === n)
  const cell = (v) => (v === undefined ? '-' : `x${Number(v).toFixed(2)}`)
  floorRows.push([String(n), cell(a?.coldVsFloor), cell(a?.noopVsFloor), cell(a?.noopVsCheckedFloor), cell(d?.vsFloor), cell(d?.vsVmFloor), cell(d?.vsCheckedFloor)])
}

const peer = find('peer-add')
if (peer && !peer.skipped) {
  const b = peer.baseline
  if (b) rows.push(['ping loss', 'no change (baseline)', `${b.sent - b.received}/${b.sent} lost`, '', `${b.lossPct.toFixed(2)}%, max RTT ${rtt(b.maxRttMs)}`])
  for (const [label, t] of [['add Host-4 (apply)', peer.add], ['rotate-keys Host-2', peer.rotate]]) {
    rows.push([
      'ping loss',
      `${label}, ${t.runs} runs`,
      `${t.sent - t.received}/${t.sent} lost`,
      '',
      `${t.lossPct.toFixed(2)}%, max RTT ${rtt(t.maxRttMs)}, change up to ${fmt(t.changeMsMax)}${t.allInsideWindow ? '' : ', NOT all inside the ping window'}`,
    ])
  }
}

const known = new Set(['startup', 'init', 'apply', 'doctor', 'peer-add'])
for (const d of results.flatMap((r) => r.data)) if (!known.has(d.bench) && !d.skipped) rows.push([d.bench, '-', 'see its output', '', ''])

console.log(`\n== summary: ${benches.length} bench${benches.length === 1 ? '' : 'es'}, started ${started.toISOString()}, ` +
  `node ${process.version}, ${availableParallelism()} cores, load average at start ${load}`)
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
for (const [i, r] of rows.entries()) {
  console.log(r.map((c, j) => c.padEnd(widths[j])).join('  ').trimEnd())
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
}
if (floorRows.length > 1) {
  console.log('\nmesh / OpenSSH floor (same lab, same run; below 1 = faster than the floor)')
  const w = floorRows[0].map((_, i) => Math.max(...floorRows.map((r) => r[i].length)))
  for (const r of floorRows) console.log(r.map((c, j) => c.padStart(w[j])).join('  '))
}
console.log(`load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
console.log(`\nwall time per bench: ${results.map((r) => `${r.file} ${fmt(r.ms)}`).join(', ')}`)
if (failed.length) console.error(`failed: ${failed.join(', ')}`)
process.exit(failed.length || interrupted ? 1 : 0)
