// e2e (issue 18): doctor's cluster view, the BEAM's own answer to "did the cluster form?", on one lab of 3
// hosts. Nodes start as the README documents (env.sh sourced for `start`, vm.args, the mesh cookie) and join
// as libcluster's Epmd strategy without :timeout does: once, at start, to every node in libcluster.exs.
// -connect_all false keeps `global` from completing or repairing the mesh behind the test's back, so a
// pair the test disconnects stays disconnected while doctor looks. Needs root + packages; dist/ built.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {ClusterFinding, DoctorReport} from '../../src/core/doctor-report.js'
import {Lab, labSkipReason, requireBuiltCli, requireLab, runProcess, startLabWaiting, stopLab} from './harness.js'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js')
const HOSTS = ['Host-1', 'Host-2', 'Host-3']
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let lab: Lab
let inventory = ''
let stateDir = ''

type Report = DoctorReport & {cluster: NonNullable<DoctorReport['cluster']>}

async function mesh(args: string[]) {
  return runProcess(process.execPath, [BIN, ...args], {timeoutMs: 300_000, env: {NO_COLOR: '1'}})
}

async function doctor(extra: string[] = []): Promise<{status: number | null; report: Report; stdout: string; stderr: string}> {
  const started = Date.now()
  const r = await mesh(['doctor', '-i', inventory, '--state', stateDir, '--json', ...extra])
  if (process.env.DOCTOR_E2E_VERBOSE) console.error(`doctor ${extra.join(' ')}: exit ${r.status} in ${(Date.now() - started) / 1000} s`)
  try {
    return {status: r.status, report: JSON.parse(r.stdout), stdout: r.stdout, stderr: r.stderr}
  } catch {
    throw new Error(`doctor --json printed no JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`)
  }
}

const show = (r: Report) =>
  `base ${JSON.stringify(r.findings.map((f) => `${f.host}${f.peer ? `->${f.peer}` : ''} ${f.check}`))}\n` +
  `cluster ${JSON.stringify(r.cluster?.matrix.map((row) => row.map((c) => c.label)))} parts ${JSON.stringify(r.cluster?.components)}\n` +
  `findings ${JSON.stringify(r.cluster?.findings.map((f) => `${f.severity} ${f.host}${f.peer ? `->${f.peer}` : ''} ${f.check}: ${f.message}`), null, 1)}\n` +
  `probes ${JSON.stringify(r.cluster?.probes)}`
const clusterChecks = (r: Report) => r.cluster.findings.map((f: ClusterFinding) => `${f.severity} ${f.host}${f.peer ? `->${f.peer}` : ''} ${f.check}`)

/** Doctor until `ok` holds for its report (a node may still be joining), bounded; the last report otherwise fails. */
async function doctorUntil(what: string, ok: (r: Report) => boolean, tries = 5) {
  let last: Awaited<ReturnType<typeof doctor>> | undefined
  for (let i = 0; i < tries; i++) {
    last = await doctor()
    if (last.report.cluster && ok(last.report)) return last
    if (process.env.DOCTOR_E2E_VERBOSE) console.error(`${what}: not yet\n${show(last.report)}`)
    await sleep(2000)
  }
  assert.fail(`${what}: not reached after ${tries} doctor runs (exit ${last!.status})\n${show(last!.report)}`)
}

async function run(host: string, script: string, env: Record<string, string> = {}): Promise<string> {
  const r = await lab.exec(host, ['sh', '-c', script], {env, timeoutMs: 180_000})
  assert.equal(r.status, 0, `on ${host}: ${script}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** A private HOME holding a cookie as .erlang.cookie: never in argv. */
const home = (cookieFile: string) => `h=$(mktemp -d); cp ${cookieFile} $h/.erlang.cookie; chmod 400 $h/.erlang.cookie; export HOME=$h; `

/** libcluster's Epmd strategy, once: connect to every node listed in libcluster.exs (itself included: a no-op). */
const JOIN = `{ok, B} = file:read_file("/etc/beam-mesh/wg0/libcluster.exs"),
{match, Ns} = re:run(B, ":\\"([^\\"]+)\\"", [global, {capture, all_but_first, list}]),
[net_kernel:connect_node(list_to_atom(N)) || [N] <- Ns].`

async function startNode(host: string, cookieFile = '/etc/beam-mesh/wg0/cookie') {
  await run(host, `RELEASE_COMMAND=start; . /etc/beam-mesh/wg0/env.sh; ${home(cookieFile)}` +
    'erl $ELIXIR_ERL_OPTIONS -$RELEASE_DISTRIBUTION $RELEASE_NODE -connect_all false -noshell -detached -eval "$JOIN"', {JOIN})
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (/^name app at port/m.test((await lab.exec(host, ['epmd', '-names'])).stdout)) return
    await sleep(250)
  }
  assert.fail(`node app did not register on ${host}`)
}

/** Evaluates an Erlang expression ON the node of `host` (bin/app rpc style: a hidden node, env.sh's remote flags). */
async function onNode(host: string, expr: string): Promise<string> {
  const code = 'T = list_to_atom(os:getenv("RELEASE_NODE")), {ok, Ts, _} = erl_scan:string(os:getenv("EXPR")), {ok, Es} = erl_parse:parse_exprs(Ts), ' +
    'R = case rpc:call(T, erl_eval, exprs, [Es, []], 10000) of {value, V, _} -> V; E -> E end, io:format("~p~n", [R]), halt().'
  return (await run(host, `RELEASE_COMMAND=rpc; . /etc/beam-mesh/wg0/env.sh; ${home('/etc/beam-mesh/wg0/cookie')}` +
    'erl $ELIXIR_ERL_OPTIONS -$RELEASE_DISTRIBUTION t$$ -hidden -noshell -eval "$CODE"', {CODE: code, EXPR: expr})).trim()
}

/** Kills the node and epmd of ONE host (its namespace's pids: pkill would see every namespace). */
async function killNode(host: string) {
  const comms = new Set(['beam.smp', 'epmd', 'erl_child_setup', 'inet_gethost'])
  const ours = () => execFileSync('ip', ['netns', 'pids', lab.host(host).namespace], {encoding: 'utf8'}).split('\n').filter(Boolean).map(Number)
    .filter((pid) => {
      try {
        return comms.has(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())
      } catch {
        return false
      }
    })
  for (const pid of ours()) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000
  while (ours().length && Date.now() < deadline) await sleep(100)
  assert.deepEqual(ours(), [], `Erlang processes still alive on ${host}`)
}

/** Every probe got an answer from its node (or a verdict on it): no transient probe failure on a loaded machine. */
const answered = (r: Report) => r.cluster.probes.length === 3 && r.cluster.probes.every((p) => p.status !== 'failed')
const full = (r: Report) => r.healthy && r.cluster.findings.length === 0 && r.cluster.matrix.flat().every((c) => c.verdict === 'ok')

describe('doctor: the cluster as the nodes see it', {timeout: 1_800_000}, () => {
  before(async () => {
    if (labSkipReason()) return
    lab = await startLabWaiting(3, {})
    inventory = lab.result.inventory
    stateDir = join(lab.dir, '.mesh', 'inventory')
    for (const step of [['init', '--json'], ['apply', '--yes', '--json']]) {
      const r = await mesh([step[0], '-i', inventory, '--state', stateDir, ...step.slice(1)])
      assert.equal(r.status, 0, `${step[0]}: ${r.stdout}${r.stderr}`)
    }
    // One after another, as nodes of a rolling deploy: each joins those already up.
    for (const h of HOSTS) await startNode(h)
  })

  after(async () => {
    if (lab) await stopLab(lab)
  })

  test('full mesh, then a disconnected pair, an isolated node, a node with another cookie', async (t) => {
    if (!requireLab(t) || !requireBuiltCli(t, 'doctor.js')) return

    // 1. Full mesh: every node lists every other; one part; exit 0; the cookie appears nowhere.
    const ok = await doctorUntil('full mesh', full)
    assert.equal(ok.status, 0)
    assert.deepEqual(ok.report.cluster.components, [HOSTS], show(ok.report))
    for (const p of ok.report.cluster.probes) {
      assert.equal(p.status, 'ok', show(ok.report))
      assert.deepEqual([...p.nodes!].sort(), HOSTS.filter((h) => h !== p.host).map((h) => `app@${h}`), show(ok.report))
    }
    const plain = await mesh(['doctor', '-i', inventory, '--state', stateDir])
    assert.equal(plain.status, 0, plain.stdout + plain.stderr)
    assert.match(plain.stdout, /^Cluster \(erlang:nodes\(\)/m)
    for (const h of HOSTS) assert.match(plain.stdout, new RegExp(`^${h}(\\s+(\\[ok\\]|ok)){3}$`, 'm'), plain.stdout)
    assert.match(plain.stdout, /Every node is connected to every other node\./)
    const cookie = readFileSync(join(stateDir, 'secrets', 'cookie'), 'utf8').trim()
    for (const text of [ok.stdout, ok.stderr, plain.stdout, plain.stderr]) assert.ok(!text.includes(cookie), 'the cookie leaked into doctor output')
    const skipped = await doctor(['--no-cluster'])
    assert.equal(skipped.report.cluster, undefined, '--no-cluster skips the cluster view')
    // The probes were hidden and left nothing behind: no extra visible node, no extra EPMD name.
    assert.match(await onNode('Host-1', 'nodes().'), /^\['app@Host-[23]','app@Host-[23]'\]$/)
    for (const h of HOSTS) assert.doesNotMatch((await lab.exec(h, ['epmd', '-names'])).stdout, /beam_mesh_doctor/)

    // 2. One pair disconnected (Host-1 x Host-2); both still reach Host-3, tunnel and EPMD are fine.
    assert.equal(await onNode('Host-1', "erlang:disconnect_node('app@Host-2')."), 'true')
    let r = await doctorUntil('all nodes asked', answered)
    assert.equal(r.status, 1, show(r.report))
    assert.deepEqual(r.report.findings, [], `the base checks stay green\n${show(r.report)}`)
    assert.deepEqual(clusterChecks(r.report), ['fail Host-1->Host-2 cluster-missing'], show(r.report))
    const pair = r.report.cluster.findings[0]
    assert.match(pair.message, /app@Host-1 and app@Host-2 are not connected/)
    assert.match(pair.hint, /libcluster/)
    assert.deepEqual([r.report.cluster.matrix[0][1].label, r.report.cluster.matrix[1][0].label, r.report.cluster.matrix[0][2].label], ['no conn', 'no conn', 'ok'])
    assert.deepEqual(r.report.cluster.components, [HOSTS], 'still one part, through Host-3')
    assert.equal(await onNode('Host-1', "net_kernel:connect_node('app@Host-2')."), 'true')
    assert.equal(await onNode('Host-2', 'lists:sort(nodes()).'), "['app@Host-1','app@Host-3']")

    // 3. Host-3's node alone: disconnected from both peers (tunnels stay up) -> the partition, listed.
    assert.equal(await onNode('Host-3', '[erlang:disconnect_node(N) || N <- nodes()].'), '[true,true]')
    r = await doctorUntil('all nodes asked', answered)
    assert.equal(r.status, 1, show(r.report))
    assert.deepEqual(r.report.findings, [], `the base checks stay green\n${show(r.report)}`)
    assert.deepEqual(clusterChecks(r.report), ['fail Host-1 cluster-partition'], show(r.report))
    assert.deepEqual(r.report.cluster.components, [['Host-1', 'Host-2'], ['Host-3']], show(r.report))
    assert.deepEqual(r.report.cluster.findings[0].components, [['Host-1', 'Host-2'], ['Host-3']])
    assert.match(r.report.cluster.findings[0].message, /\[Host-1, Host-2\] \| \[Host-3\].*Host-3 is connected to no node/)
    assert.equal(await onNode('Host-3', "[net_kernel:connect_node(N) || N <- ['app@Host-1', 'app@Host-2']]."), '[true,true]')
    assert.equal(await onNode('Host-3', 'lists:sort(nodes()).'), "['app@Host-1','app@Host-2']")

    // 4. Host-2's node restarted with another cookie: up and registered, but it refuses the mesh cookie.
    await killNode('Host-2')
    // In the lab's own folder (the hosts see it; /root would be the machine's own home).
    const otherFile = join(lab.dir, 'other-cookie')
    const other = randomBytes(24).toString('hex')
    writeFileSync(otherFile, `${other}\n`, {mode: 0o600})
    await startNode('Host-2', otherFile)
    r = await doctorUntil('all nodes asked', answered)
    assert.equal(r.status, 1, show(r.report))
    assert.deepEqual(r.report.findings, [], `cookie-free checks stay green\n${show(r.report)}`)
    assert.deepEqual(clusterChecks(r.report), ['fail Host-2 cluster-cookie'], show(r.report))
    assert.match(r.report.cluster.findings[0].message, /app@Host-2 is up and registered, but refuses the mesh cookie/)
    assert.equal(r.report.cluster.matrix[1][1].label, 'cookie')
    assert.deepEqual(r.report.cluster.components, [['Host-1', 'Host-3']], show(r.report))
    assert.ok(!r.stdout.includes(other) && !r.stdout.includes(cookie), 'no cookie in --json')
  })
})
