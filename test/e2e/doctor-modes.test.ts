// e2e: the BEAM modes doctor.test.ts does not cover, on a real lab mesh (3 hosts): `naming: name` (nodes
// are app@<WireGuard IPv4>) and EPMD-less distribution (`epmd: false`, one fixed port). Nodes are started
// exactly as the rendered env.sh dictates (sourced with RELEASE_COMMAND=start|remote, so ELIXIR_ERL_OPTIONS
// carries vm.args or the remote flags), the cookie from /etc/beam-mesh/wg0/cookie via HOME/.erlang.cookie,
// never in argv. Needs root + lab packages; skips loudly (fails under CI) otherwise. dist/ must be built.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {test} from 'node:test'
import {fileURLToPath} from 'node:url'

import type {DoctorReport} from '../../src/core/doctor-report.js'
import {Lab, requireLab, runProcess, startLab, stopLab} from './harness.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const HOSTS = ['Host-1', 'Host-2', 'Host-3']
const BEAM_COMMS = new Set(['beam.smp', 'epmd', 'erl_child_setup', 'inet_gethost'])

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const mesh = (args: string[], timeoutMs = 90_000) => runProcess(process.execPath, [BIN, ...args], {timeoutMs, env: {NO_COLOR: '1'}})
const show = (rep: DoctorReport) =>
  `matrix ${JSON.stringify(rep.matrix.map((row) => row.map((c) => c.label)))}\nfindings ${JSON.stringify(rep.findings.map((f) => `${f.severity} ${f.host}${f.peer ? `->${f.peer}` : ''} ${f.check}: ${f.message} | ${f.hint}`), null, 1)}`
const checks = (rep: DoctorReport) => rep.findings.map((f) => `${f.severity} ${f.host}${f.peer ? `->${f.peer}` : ''} ${f.check}`)

test('doctor modes: naming name and EPMD-less distribution on a real lab mesh', {timeout: 240_000}, async (t) => {
  if (!requireLab(t)) return
  assert.ok(existsSync(join(ROOT, 'dist', 'commands', 'doctor.js')), 'dist/ is not built: run npm run build first')
  const lab: Lab = await startLab(3)
  try {
    const stateDir = join(lab.dir, '.mesh', 'inventory')
    const base = readFileSync(lab.result.inventory, 'utf8')
    /** An inventory beside the lab's (relative key paths hold) with the beam: section replaced. */
    const variant = (name: string, beam: string[]) => {
      const text = base.replace(/^beam:\n(?: {2}.*\n)*/m, `beam:\n${beam.map((l) => `  ${l}\n`).join('')}`)
      assert.notEqual(text, base)
      const file = join(lab.dir, name)
      writeFileSync(file, text.replace(/^ssh:\n/m, 'ssh:\n  connectTimeoutSeconds: 5\n'))
      return file
    }
    const run = async (host: string, script: string) => {
      const r = await lab.exec(host, ['sh', '-c', script])
      assert.equal(r.status, 0, `on ${host}: ${script}\n${r.stdout}${r.stderr}`)
      return r.stdout
    }
    const ipOf = (host: string): string => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')).hosts[host].ipv4
    const applyOk = async (inv: string) => {
      const r = await mesh(['apply', '-i', inv, '--state', stateDir, '--yes', '--json'])
      assert.equal(r.status, 0, `apply: ${r.stdout}${r.stderr}`)
    }
    const doctor = async (inv: string) => {
      // --no-cluster: these nodes are not clustered on purpose; doctor-cluster.test.ts covers the cluster view.
      const r = await mesh(['doctor', '-i', inv, '--state', stateDir, '--json', '--no-cluster'])
      try {
        return {status: r.status, report: JSON.parse(r.stdout) as DoctorReport}
      } catch {
        throw new Error(`doctor --json printed no JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`)
      }
    }
    const doctorHealthy = async (inv: string) => {
      let last: Awaited<ReturnType<typeof doctor>> | undefined
      for (let i = 0; i < 4; i++) {
        last = await doctor(inv)
        if (last.report.healthy && last.status === 0) return last.report
        await sleep(1500)
      }
      assert.fail(`doctor still unhealthy (exit ${last!.status})\n${show(last!.report)}`)
    }
    /** Pids of Erlang processes in the host's network namespace (not pkill: a netns sees every process). */
    const beamPids = (host: string, comms = BEAM_COMMS) =>
      execFileSync('ip', ['netns', 'pids', lab.host(host).namespace], {encoding: 'utf8'}).split('\n').filter(Boolean).map(Number).filter((pid) => {
        try {
          return comms.has(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())
        } catch {
          return false
        }
      })
    const killBeam = async (host: string) => {
      for (const pid of beamPids(host)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      const deadline = Date.now() + 5000
      while (beamPids(host).length && Date.now() < deadline) await sleep(100)
      assert.deepEqual(beamPids(host), [], `Erlang processes still alive on ${host}`)
    }
    /** A HOME holding the cookie as .erlang.cookie: the cookie never appears in argv. */
    const withCookie = 'h=$(mktemp -d); cp /etc/beam-mesh/wg0/cookie $h/.erlang.cookie; chmod 400 $h/.erlang.cookie; export HOME=$h; '
    /** The node as a release would start it: env.sh sourced for `start` (ELIXIR_ERL_OPTIONS = -args_file vm.args). */
    const startNode = async (host: string, name = '$RELEASE_NODE') => {
      await run(host, `RELEASE_COMMAND=start; . /etc/beam-mesh/wg0/env.sh; ${withCookie}` +
        `erl $ELIXIR_ERL_OPTIONS -$RELEASE_DISTRIBUTION ${name} -noshell -detached`)
    }
    /** `bin/app remote` as env.sh dictates: a hidden node with the remote flags; net_adm:ping of target. */
    const ping = async (from: string, target: string) => {
      const r = await lab.exec(from, ['sh', '-c', `RELEASE_COMMAND=remote; . /etc/beam-mesh/wg0/env.sh; ${withCookie}` +
        `erl $ELIXIR_ERL_OPTIONS -$RELEASE_DISTRIBUTION probe$$@\${RELEASE_NODE#*@} -hidden -noshell ` +
        `-eval 'io:format("~p~n", [net_adm:ping(list_to_atom(os:getenv("TARGET")))]), halt().'`], {env: {TARGET: target}})
      return r.stdout.trim() + (r.status === 0 ? '' : ` (exit ${r.status}: ${r.stderr.trim()})`)
    }
    const untilPong = async (from: string, target: string) => {
      let last = ''
      for (let i = 0; i < 20; i++) {
        if ((last = await ping(from, target)) === 'pong') return
        await sleep(500)
      }
      assert.fail(`${from}: net_adm:ping('${target}') -> ${last}`)
    }

    await t.test('naming: name: nodes app@<WG IPv4> cluster, doctor healthy, a wrong name is reported', async () => {
      const inv = variant('inventory-name.yaml', ['nodeBasename: app', 'naming: name'])
      const init = await mesh(['init', '-i', inv, '--state', stateDir, '--json'])
      assert.equal(init.status, 0, `init: ${init.stderr}`)
      await applyOk(inv)
      for (const h of HOSTS) {
        const env = await run(h, 'cat /etc/beam-mesh/wg0/env.sh')
        assert.match(env, new RegExp(`^export RELEASE_NODE=app@${ipOf(h).replace(/\./g, '\\.')}$`, 'm'))
        assert.match(env, /^export RELEASE_DISTRIBUTION=name$/m)
        assert.match(env, /^export ERL_EPMD_ADDRESS=10\.99\.0\.\d+,/m)
      }
      await Promise.all(HOSTS.map((h) => startNode(h)))
      await untilPong('Host-1', `app@${ipOf('Host-2')}`)
      await untilPong('Host-3', `app@${ipOf('Host-1')}`)
      // The cookie is never in any process's argv.
      const cookie = readFileSync(join(stateDir, 'secrets', 'cookie'), 'utf8').trim()
      for (const h of HOSTS) for (const pid of beamPids(h)) assert.ok(!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cookie), `cookie in argv of ${pid} on ${h}`)
      const ok = await doctorHealthy(inv)
      assert.deepEqual(ok.findings, [], show(ok))

      // Fault 1: Host-2's node runs as app@127.0.0.1 (registered as "app", answers with the wrong name).
      await killBeam('Host-2')
      await startNode('Host-2', 'app@127.0.0.1')
      await sleep(1000)
      let {status, report} = await doctor(inv)
      assert.equal(status, 1, show(report))
      assert.deepEqual(checks(report), ['fail Host-1->Host-2 dist-name', 'fail Host-3->Host-2 dist-name'], show(report))
      const dn = report.findings[0]
      assert.match(dn.message, new RegExp(`dialled app@${ipOf('Host-2').replace(/\./g, '\\.')} but the node calls itself app@127\\.0\\.0\\.1`))
      assert.match(dn.hint, new RegExp(`-name app@${ipOf('Host-2').replace(/\./g, '\\.')}`), `hint for naming: name: ${dn.hint}`)
      assert.doesNotMatch(dn.hint, /hostnamectl/, 'the hostname plays no part with naming: name')
      assert.equal(report.matrix[0][1].label, 'name!')
      assert.equal(report.matrix[0][2].verdict, 'ok')

      // Fault 2: another basename (other@<ip>): epmd on Host-2 knows "other", not "app".
      await killBeam('Host-2')
      await startNode('Host-2', `other@${ipOf('Host-2')}`)
      await sleep(1000)
      ;({status, report} = await doctor(inv))
      assert.equal(status, 1, show(report))
      assert.deepEqual(checks(report), ['fail Host-2 node-registered'], show(report))
      assert.match(report.findings[0].message, /knows other, not "app"/)
      assert.match(report.findings[0].hint, new RegExp(`-name app@${ipOf('Host-2').replace(/\./g, '\\.')}`), report.findings[0].hint)

      await killBeam('Host-2')
      await startNode('Host-2')
      await doctorHealthy(inv)
    })

    await t.test('EPMD-less (epmd: false, port 9200): no epmd anywhere, nodes connect, doctor healthy; a down node is reported', async () => {
      await Promise.all(HOSTS.map((h) => killBeam(h)))
      const inv = variant('inventory-noepmd.yaml', ['nodeBasename: app', 'naming: sname', 'epmd: false', 'distPortMin: 9200', 'distPortMax: 9200'])
      await applyOk(inv)
      for (const h of HOSTS) {
        const vmArgs = await run(h, 'cat /etc/beam-mesh/wg0/vm.args')
        assert.match(vmArgs, /^-start_epmd false$/m)
        assert.match(vmArgs, /^-erl_epmd_port 9200$/m)
        assert.match(vmArgs, /inet_dist_listen_min 9200 inet_dist_listen_max 9200/)
        const env = await run(h, 'cat /etc/beam-mesh/wg0/env.sh')
        // No command starts an EPMD here; should anything that sources env.sh start one, it binds the mesh only.
        assert.match(env, /^export ERL_EPMD_ADDRESS=10\.99\.0\.\d+,/m)
        assert.match(env, /-dist_listen false -start_epmd false -erl_epmd_port 9200/)
      }
      await Promise.all(HOSTS.map((h) => startNode(h)))
      for (const [from, to] of [['Host-1', 'Host-2'], ['Host-2', 'Host-3'], ['Host-3', 'Host-1']]) await untilPong(from, `app@${to}`)
      for (const h of HOSTS) {
        assert.deepEqual(beamPids(h, new Set(['epmd'])), [], `an epmd runs on ${h}`)
        // Bound to the tunnel address only, on the one fixed port.
        assert.match(await run(h, 'ss -Hltn "sport = :9200"'), new RegExp(`${ipOf(h).replace(/\./g, '\\.')}:9200`))
      }
      const ok = await doctorHealthy(inv)
      assert.deepEqual(ok.findings, [], show(ok))

      // Fault: the node on Host-2 is down. Nothing else knows (no epmd): the peers' dial of 9200 is refused.
      await killBeam('Host-2')
      const {status, report} = await doctor(inv)
      assert.equal(status, 1, show(report))
      assert.deepEqual(checks(report), ['fail Host-1->Host-2 dist-reach', 'fail Host-3->Host-2 dist-reach'], show(report))
      for (const f of report.findings) {
        assert.match(f.message, /app@Host-2/)
        assert.match(f.message, /9200/)
        assert.match(f.hint, /not running|start the release/i, `hint says the node is down: ${f.hint}`)
      }
      assert.equal(report.matrix[0][1].verdict, 'fail')
      assert.equal(report.matrix[2][1].verdict, 'fail')
      assert.equal(report.matrix[0][2].verdict, 'ok', 'Host-1 -> Host-3 is not affected')
      assert.equal(report.matrix[1][0].verdict, 'ok', 'Host-2 itself still reaches its peers')
      assert.ok(!report.findings.some((f) => f.check.startsWith('epmd')), 'no epmd findings in EPMD-less mode')

      await startNode('Host-2')
      await untilPong('Host-1', 'app@Host-2')
      await doctorHealthy(inv)
      for (const h of HOSTS) assert.deepEqual(beamPids(h, new Set(['epmd'])), [], `an epmd runs on ${h}`)
    })
  } finally {
    await stopLab(lab)
  }
})
