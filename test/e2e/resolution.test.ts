// e2e (issue 11): mesh names resolve to the tunnel the way the BEAM resolves them. Before apply, every kind of
// shadowing /etc/hosts line is seeded (a container's self line, Debian's 127.0.1.1 line, a stale peer line, a
// line with several names); after apply, Erlang itself on every host answers the mesh address for every mesh
// name and its own node answers pong by name. A line added by hand turns doctor red (host, name, line) until
// the next apply; `mesh remove` gives the removed host its original /etc/hosts back, byte for byte.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {DoctorReport} from '../../src/core/doctor-report.js'
import {Lab, labSkipReason, requireBuiltCli, requireLab, runProcess, startLabWaiting, stopLab} from './harness.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const HOSTS = ['Host-1', 'Host-2', 'Host-3']

let lab: Lab | undefined
let inv = ''
let state = ''
/** /etc/hosts of each host right after seeding, before any apply. */
const seeded = new Map<string, string>()

const mesh = (args: string[], timeoutMs = 600_000) => runProcess(process.execPath, [BIN, ...args, '-i', inv, '--state', state], {timeoutMs, env: {NO_COLOR: '1'}})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function on(host: string, script: string, input?: string): Promise<string> {
  const r = await lab!.exec(host, ['sh', '-c', script], {input, timeoutMs: 90_000})
  assert.equal(r.status, 0, `on ${host}: ${script}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** In place: the lab's /etc/hosts is bind-mounted (a rename would fail with EBUSY, as in Docker). */
const prepend = (host: string, lines: string) => on(host, 'f=$(mktemp); cat - /etc/hosts > "$f"; cat "$f" > /etc/hosts; rm -f "$f"', lines)
const etcHosts = (host: string) => on(host, 'cat /etc/hosts')

async function doctor(): Promise<{status: number | null; report: DoctorReport}> {
  const r = await mesh(['doctor', '--json', '--no-cluster']) // the cluster view has its own suite; these nodes are not clustered on purpose
  try {
    return {status: r.status, report: JSON.parse(r.stdout)}
  } catch {
    throw new Error(`doctor --json printed no JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`)
  }
}

const brief = (rep: DoctorReport) => rep.findings.map((f) => `${f.severity} ${f.host}${f.peer ? `->${f.peer}` : ''} ${f.check}: ${f.message}`).join('\n')

/** Right after apply a handshake may still be under way: a few bounded tries. */
async function doctorGreen(): Promise<void> {
  let last: Awaited<ReturnType<typeof doctor>> | undefined
  for (let i = 0; i < 5; i++) {
    last = await doctor()
    if (last.status === 0 && last.report.healthy) return
    await sleep(2000)
  }
  assert.fail(`doctor not green (exit ${last!.status}):\n${brief(last!.report)}`)
}

/** As the README says: env.sh sourced (EPMD on the tunnel), the cookie from /etc/beam-mesh, vm.args. */
async function startNode(host: string): Promise<void> {
  await on(host, '. /etc/beam-mesh/wg0/env.sh; h=$(mktemp -d); cp /etc/beam-mesh/wg0/cookie $h/.erlang.cookie; chmod 400 $h/.erlang.cookie; ' +
    'HOME=$h erl -sname app -noshell -detached -args_file /etc/beam-mesh/wg0/vm.args')
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (/^name app at port \d+/m.test((await lab!.exec(host, ['epmd', '-names'])).stdout)) return
    await sleep(300)
  }
  assert.fail(`node app did not register with epmd on ${host} within 90 s`)
}

/**
 * Erlang on `host`, as a release command runs it (a hidden node with the node's settings): inet:getaddr and
 * inet:getaddrs for every name and family, then a ping of the host's own node by name.
 */
async function askErlang(host: string, names: string[]): Promise<{answers: Map<string, string[]>; ping: string}> {
  const expr = 'F = fun(T) -> case T of {ok, A} when is_tuple(A) -> [inet:ntoa(A)]; {ok, As} -> [inet:ntoa(X) || X <- As]; E -> [io_lib:format("~p", [E])] end end, ' +
    '[io:format("ANS ~s ~s ~s~n", [N, Fam, string:join(F(inet:getaddr(N, Fam)) ++ F(inet:getaddrs(N, Fam)), ",")]) || N <- string:split(os:getenv("NAMES"), " ", all), Fam <- [inet, inet6]], ' +
    'io:format("PING ~p~n", [net_adm:ping(list_to_atom("app@" ++ os:getenv("SELF")))]), halt().'
  const out = await on(host, `. /etc/beam-mesh/wg0/env.sh; h=$(mktemp -d); cp /etc/beam-mesh/wg0/cookie $h/.erlang.cookie; chmod 400 $h/.erlang.cookie; ` +
    `HOME=$h NAMES="${names.join(' ')}" SELF=${host} erl -sname probe$$ -hidden -noshell -args_file /etc/beam-mesh/wg0/vm.args -eval '${expr}'`)
  const answers = new Map<string, string[]>()
  for (const m of out.matchAll(/^ANS (\S+) (\S+) (\S*)$/gm)) answers.set(`${m[1]} ${m[2]}`, m[3].split(','))
  return {answers, ping: /^PING (\S+)$/m.exec(out)?.[1] ?? `no ping line in: ${out}`}
}

describe('mesh names resolve to the tunnel as the BEAM resolves them', {timeout: 2_400_000}, () => {
  before(async () => {
    if (labSkipReason()) return // each test skips (or fails under CI) through requireLab
    lab = await startLabWaiting(3, {})
    inv = lab.result.inventory
    state = join(lab.dir, '.mesh', 'inventory')
    const bridge = (i: number) => lab!.hosts[i].address
    const stale = bridge(0).replace(/\.\d+$/, '.250')
    // Host-1: a container runtime's self line. Host-2: Debian/cloud-init's 127.0.1.1 line (FQDN + name).
    // Host-3: a stale line for a peer and one line with several names, mesh and other.
    await prepend('Host-1', `${bridge(0)}\tHost-1\n`)
    await prepend('Host-2', '127.0.1.1\thost-2.example.com Host-2\n')
    await prepend('Host-3', `${stale}\tHost-1\n10.0.0.7\tlegacy-db Host-2 host-2-WG\n`)
    for (const h of HOSTS) seeded.set(h, await etcHosts(h))
  })

  after(async () => {
    await stopLab() // every namespace and process, also after a failed setup
  })

  test('the plan shows each shadowing line before consent; apply neutralizes exactly those names', async (t) => {
    if (!requireLab(t) || !requireBuiltCli(t, 'apply.js')) return
    const plan = await mesh(['plan'])
    assert.equal(plan.status, 0, plan.stderr)
    assert.match(plan.stdout, /neutralize line 1: it maps Host-2 to 127\.0\.1\.1/)
    assert.match(plan.stdout, /^ +-127\.0\.1\.1\thost-2\.example\.com Host-2$/m, 'the /etc/hosts diff shows the line going')
    assert.match(plan.stdout, /^ +\+127\.0\.1\.1\thost-2\.example\.com\t# beam-mesh wg0 was: 127\.0\.1\.1\thost-2\.example\.com Host-2$/m)

    const r = await mesh(['apply', '--yes', '--json'])
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    const result = JSON.parse(r.stdout) as {hosts: {name: string; hostsLines?: {neutralized: {text: string; names: string[]}[]}}[]}
    const neutralized = Object.fromEntries(result.hosts.map((h) => [h.name, (h.hostsLines?.neutralized ?? []).map((l) => `${l.names.join('+')}: ${l.text}`)]))
    const stale = lab!.hosts[0].address.replace(/\.\d+$/, '.250')
    assert.deepEqual(neutralized, {
      'Host-1': [`Host-1: ${lab!.hosts[0].address}\tHost-1`],
      'Host-2': ['Host-2: 127.0.1.1\thost-2.example.com Host-2'],
      'Host-3': [`Host-1: ${stale}\tHost-1`, 'Host-2+host-2-WG: 10.0.0.7\tlegacy-db Host-2 host-2-WG'],
    })
    const h3 = await etcHosts('Host-3')
    assert.match(h3, /^10\.0\.0\.7\tlegacy-db\t# beam-mesh wg0 was: 10\.0\.0\.7\tlegacy-db Host-2 host-2-WG$/m, 'other names stay on the line')
    assert.match(h3, /^198\.18\.\d+\.1\tlab-gateway\.example lab-gateway$/m, 'lines for names outside the mesh untouched')
    const again = await mesh(['apply', '--yes', '--json'])
    assert.equal(again.status, 0)
    assert.equal(JSON.parse(again.stdout).changed, 0, 're-running apply changes nothing')
  })

  test('Erlang on every host: every mesh name is its mesh address, and the own node answers pong by name', async (t) => {
    if (!requireLab(t)) return
    await Promise.all(HOSTS.map(startNode))
    const st = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as {hosts: Record<string, {ipv4: string; ipv6: string}>}
    for (const host of HOSTS) {
      const {answers, ping} = await askErlang(host, HOSTS)
      assert.equal(ping, 'pong', `${host}: net_adm:ping of its own node by name`)
      for (const name of HOSTS) {
        assert.deepEqual([...new Set(answers.get(`${name} inet`))], [st.hosts[name].ipv4], `${host}: inet:getaddr/getaddrs(${name}, inet)`)
        assert.deepEqual([...new Set(answers.get(`${name} inet6`))], [st.hosts[name].ipv6], `${host}: inet:getaddr/getaddrs(${name}, inet6)`)
      }
    }
    await doctorGreen()
  })

  test('a shadowing line added by hand: doctor red with host, name and line; green again after apply', async (t) => {
    if (!requireLab(t)) return
    await prepend('Host-2', '10.0.0.66\tHost-3\n')
    const red = await doctor()
    assert.equal(red.status, 1)
    const hit = red.report.findings.find((f) => f.host === 'Host-2' && f.severity === 'fail' && f.message.includes('Host-3') && f.message.includes('"10.0.0.66\\tHost-3"'))
    assert.ok(hit, `a FAIL on Host-2 naming Host-3 and the line:\n${brief(red.report)}`)
    // Erlang's own resolver is among those that gave the wrong address (asked by the cluster probe's VM).
    assert.match(hit.message, /10\.0\.0\.66 \([^)]*erl inet:getaddr\(inet\)/, hit.message)
    assert.match(hit.hint, /mesh apply --hosts Host-2/)
    const r = await mesh(['apply', '--yes'])
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    await doctorGreen()
  })

  test('mesh remove restores the lines the host had neutralized, byte for byte', async (t) => {
    if (!requireLab(t)) return
    const r = await mesh(['remove', 'Host-3', '--yes'])
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.match(r.stdout, /restore 2 line\(s\)/)
    assert.equal(await etcHosts('Host-3'), seeded.get('Host-3'), 'Host-3 has its original /etc/hosts again')
    // Host-3 left the mesh: the line for it on Host-2 is no longer in conflict and comes back as written.
    assert.match(await etcHosts('Host-2'), /^10\.0\.0\.66\tHost-3$/m)
  })
})
