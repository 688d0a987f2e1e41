// The rendered BEAM artifacts against the real tools: sh sources env.sh, erl accepts vm.args (with the
// WireGuard address swapped for 127.0.0.1), nft parses and loads the firewall. erl and nft run in a
// private network namespace (only lo) when we are root; every process is killed by pid, also on failure.
import assert from 'node:assert/strict'
import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import {chmodSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {remoteErlFlags} from '../../src/core/beam.js'
import {beamPaths, nftTable} from '../../src/core/beam-paths.js'
import {baseInventory, tmpDir} from '../support/helpers.js'
import {filesOf, have, isRoot, meshOf, netnsCreate, netnsDestroy, requireOrSkip} from '../support/beam.js'

const COOKIE = 'TestCookie0123456789abcdefghijklmnopqrstuvwxyzAB'
const BEAM_PATHS = beamPaths('wg0')
const port = () => 20000 + Math.floor(Math.random() * 9000)

/** A HOME holding the test cookie, so no -setcookie in argv and no ~/.erlang.cookie of root's is made. */
function erlHome(): string {
  const home = tmpDir('beam-mesh-erl-')
  writeFileSync(join(home, '.erlang.cookie'), COOKIE, {mode: 0o400})
  chmodSync(join(home, '.erlang.cookie'), 0o400)
  return home
}

/** The vm.args of host A with its WireGuard IPv4 tuple replaced by loopback. */
function loopbackVmArgs(vmArgs: string): string {
  const file = join(tmpDir(), 'vm.args')
  writeFileSync(file, vmArgs.replace('{10,77,0,1}', '{127,0,0,1}'))
  return file
}

const LISTEN = 'Ls = [S || P <- erlang:ports(), {name, "tcp_inet"} =:= erlang:port_info(P, name), {ok, S} <- [inet:sockname(P)]]'

async function waitFor(check: () => boolean, ms: number, what: string) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (check()) return
  throw new Error(`timed out waiting for ${what}`)
}

function sandbox(tag: string) {
  const ns = isRoot() && have('ip') ? netnsCreate(tag) : null
  const prefix = ns ? ['ip', 'netns', 'exec', ns] : []
  const children: ChildProcess[] = []
  return {
    ns,
    run: (argv: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(prefix[0] ?? argv[0], [...prefix.slice(1), ...(prefix.length ? argv : argv.slice(1))], {env: {...process.env, ...env}, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL'}),
    start: (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      const c = spawn(prefix[0] ?? argv[0], [...prefix.slice(1), ...(prefix.length ? argv : argv.slice(1))], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
      children.push(c)
      return c
    },
    cleanup: () => {
      for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL')
      if (ns) netnsDestroy(ns)
    },
  }
}

describe('env.sh under sh', () => {
  const source = (env: string, cookiePath: string, command: string) => {
    const file = join(tmpDir(), 'env.sh')
    writeFileSync(file, env.replaceAll(BEAM_PATHS.cookie, cookiePath))
    return spawnSync('sh', ['-c', '. "$1"; printf "%s|%s|%s|%s" "$RELEASE_NODE" "$RELEASE_COOKIE" "$ELIXIR_ERL_OPTIONS" "${ERL_EPMD_ADDRESS:-}"', 'sh', file], {
      env: {PATH: process.env.PATH, RELEASE_COMMAND: command},
      encoding: 'utf8',
    })
  }
  it('sets the node, reads the cookie from its file, and adds vm.args only for start/daemon', () => {
    const mesh = meshOf(baseInventory())
    const env = filesOf(mesh, mesh.hosts[0], COOKIE)[BEAM_PATHS.envSh]
    const cookie = join(tmpDir(), 'cookie')
    writeFileSync(cookie, `${COOKIE}\n`, {mode: 0o600})
    assert.equal(spawnSync('sh', ['-n'], {input: env}).status, 0)
    assert.equal(source(env, cookie, 'daemon').stdout, `app@Host-A|${COOKIE}| -args_file /etc/beam-mesh/wg0/vm.args|10.77.0.1,fd77:77::1`)
    for (const c of ['start', 'start_iex', 'daemon', 'daemon_iex']) assert.equal(source(env, cookie, c).stdout.split('|')[2], ' -args_file /etc/beam-mesh/wg0/vm.args', c)
    // Every other command starts (at most) a short-lived node: it never listens and never starts an EPMD.
    for (const c of ['stop', 'restart', 'pid', 'rpc', 'remote', 'eval', 'version', '']) {
      assert.equal(source(env, cookie, c).stdout, `app@Host-A|${COOKIE}| -dist_listen false -start_epmd false|10.77.0.1,fd77:77::1`, c)
    }
    const missing = source(env, join(tmpDir(), 'absent'), 'start')
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /beam-mesh: cannot read/)
  })
})

describe('vm.args under the real erl', () => {
  it('EPMD mode: the node listens on loopback in the port range and registers with EPMD', {timeout: 60_000}, async (t) => {
    if (!requireOrSkip(t, have('erl') && have('epmd'), 'erl/epmd not installed')) return
    const [epmdPort, min] = [port(), port()]
    const mesh = meshOf({...baseInventory(), beam: {distPortMin: min, distPortMax: min + 5}})
    const args = loopbackVmArgs(filesOf(mesh, mesh.hosts[0], COOKIE)[BEAM_PATHS.vmArgs])
    const box = sandbox('beam-epmd')
    try {
      // Our own epmd (foreground, killed below): erl's `epmd -daemon` then finds the port taken and
      // exits, so no daemon outlives the test.
      const env = {ERL_EPMD_PORT: String(epmdPort), HOME: erlHome()}
      box.start(box.ns ? ['epmd', '-port', String(epmdPort)] : ['epmd', '-port', String(epmdPort), '-address', '127.0.0.1'])
      await waitFor(() => box.run(['epmd', '-names'], env).status === 0, 10_000, 'epmd')
      // Sockets of the node: the distribution listener and its client connection to epmd.
      const eval_ = `${LISTEN}, {ok, [{"t", Reg}]} = net_adm:names(), io:format("registered=~w sockets=~w~n", [Reg, Ls]), halt().`
      const r = box.run(['erl', '-args_file', args, '-sname', 't', '-noshell', '-eval', eval_], env)
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
      const m = /registered=(\d+) sockets=(\S+)/.exec(r.stdout)
      assert.ok(m, r.stdout)
      const registered = Number(m[1])
      assert.ok(registered >= min && registered <= min + 5, `port ${registered} outside ${min}-${min + 5}`)
      assert.ok(m[2].includes(`{{127,0,0,1},${registered}}`), `listens on the pinned interface: ${m[2]}`)
    } finally {
      box.cleanup()
    }
  })

  it('EPMD-less mode: no EPMD anywhere, one fixed port, and a remote shell node (env.sh flags) connects', {timeout: 60_000}, async (t) => {
    if (!requireOrSkip(t, have('erl'), 'erl not installed')) return
    const p = port()
    const mesh = meshOf({...baseInventory(), beam: {naming: 'name', epmd: false, distPortMin: p, distPortMax: p}})
    const args = loopbackVmArgs(filesOf(mesh, mesh.hosts[0], COOKIE)[BEAM_PATHS.vmArgs])
    const env = {HOME: erlHome(), ERL_EPMD_PORT: String(port())} // a port where no epmd listens
    const box = sandbox('beam-noepmd')
    try {
      const node = box.start(['erl', '-args_file', args, '-name', 'a@127.0.0.1', '-noshell', '-eval', `${LISTEN}, io:format("ready listen=~w~n", [Ls]).`], env)
      let out = ''
      node.stdout.on('data', (d) => (out += d))
      node.stderr.on('data', (d) => (out += d))
      await waitFor(() => out.includes('ready') || node.exitCode !== null, 20_000, 'node a')
      assert.match(out, new RegExp(`ready listen=\\[\\{\\{127,0,0,1\\},${p}\\}\\]`), out)
      const dial = `R = net_kernel:connect_node('a@127.0.0.1'), io:format("connect=~w~n", [R]), halt().`
      const r = box.run(['erl', '-name', 'rem@127.0.0.1', ...remoteErlFlags(mesh.beam).split(' '), '-noshell', '-eval', dial], env)
      assert.match(r.stdout, /connect=true/, `${r.stdout}${r.stderr}`)
      if (box.ns) {
        // beam.smp and its erl_child_setup helper, no epmd.
        const left = spawnSync('ip', ['netns', 'pids', box.ns], {encoding: 'utf8'}).stdout.split(/\s+/).filter(Boolean)
        const names = left.map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim())
        assert.ok(left.includes(String(node.pid)), 'node a is still up')
        assert.ok(!names.includes('epmd'), `no epmd in the namespace: ${names.join(', ')}`)
      }
    } finally {
      box.cleanup()
    }
  })
})

describe('firewall.nft under the real nft', () => {
  for (const [label, raw] of [
    ['dual stack, EPMD', {...baseInventory(), beam: {firewall: true}}],
    ['IPv6 only, EPMD-less', {...baseInventory(), network: {interface: 'wg7', ipv6: 'fd77:77::/64'}, beam: {firewall: true, epmd: false, distPortMin: 9300, distPortMax: 9300}}],
  ] as const) {
    it(`${label}: parses (nft -c), loads twice in a namespace, and lists the rules`, {timeout: 30_000}, (t) => {
      if (!requireOrSkip(t, have('nft'), 'nft not installed')) return
      if (!requireOrSkip(t, isRoot() && have('ip'), 'nft checks need root (netlink) and ip(8)')) return
      const mesh = meshOf(raw)
      const file = join(tmpDir(), 'firewall.nft')
      writeFileSync(file, filesOf(mesh, mesh.hosts[0], COOKIE)[beamPaths(mesh.interface).firewall])
      const check = spawnSync('nft', ['-c', '-f', file], {encoding: 'utf8'})
      assert.equal(check.status, 0, check.stderr)
      const ns = netnsCreate('fwtest')
      try {
        const nft = (...a: string[]) => spawnSync('ip', ['netns', 'exec', ns, 'nft', ...a], {encoding: 'utf8', timeout: 10_000})
        for (let i = 0; i < 2; i++) assert.equal(nft('-f', file).status, 0, 'load (and reload) succeeds')
        const listed = nft('list', 'table', 'inet', nftTable(mesh.interface)).stdout
        const ports = mesh.beam.epmd ? '{ 4369, 9100-9105 }' : '9300'
        assert.match(listed, /type filter hook input priority filter - 1; policy accept;/)
        assert.ok(listed.includes(`iifname "lo" tcp dport ${ports} accept`), listed)
        assert.ok(listed.includes(`iifname "${mesh.interface}" ip6 saddr fd77:77::/64 tcp dport ${ports} accept`), listed)
        assert.equal(listed.includes('ip saddr'), Boolean(mesh.ipv4), listed)
        assert.ok(listed.includes(`tcp dport ${ports} drop`), listed)
        assert.equal(nft('list', 'tables').stdout.trim(), `table inet beam_mesh_${mesh.interface}`, 'one table, not two')
      } finally {
        netnsDestroy(ns)
      }
    })
  }
})
