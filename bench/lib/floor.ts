// The OpenSSH floor: what the same job costs done by hand with the stock client, in the same lab and the same
// run as mesh, so a ratio mesh/floor holds whatever the machine's load. One shell script starts one `ssh` per
// host, all at once, and waits for them:
// - cold: write the files mesh writes (wg config, BEAM files, the hosts block spliced into /etc/hosts), then
//   `wg-quick up`;
// - no-op: read the same files and `wg show`;
// - checked no-op: read what mesh's no-op reads, with the same programs: the sha256 of each managed file, its owner
//   and mode, /etc/hosts byte for byte (base64) and the running peers without their keys (`wg show dump | awk`);
// - ping sweep: each host pings every other host's tunnel address (doctor's floor);
// - ping sweep + one VM: the same, with an Erlang VM booted beside it on every host (`erl -eval 'halt().'`, with
//   the flags doctor gives its short-lived VMs): the least that reading the BEAM's own view of the names costs;
// - checked doctor: what doctor checks, by hand (checkedDoctorBody): pings, names, Erlang's answers, EPMD and the
//   dist handshake to every peer from the host's own VM.
// The same cold and no-op scripts are also run by a bare Node process through ssh2 (bench/lib/ssh2-floor.mjs): the
// floor of any CLI on Node and ssh2, which mesh is built on.
// Payloads go on ssh's stdin (the private key and the cookie never in argv), from 0600 files in the bench's dir.
import {spawn} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {ERL_RESOLVE_LINES, SHORT_LIVED_VM_FLAGS} from '../../src/core/resolution-facts.js'
import {PROBE_FLAGS} from '../../src/remote/dist-probe.js'
import type {LabHost} from '../../src/lab/index.js'
import {BenchLab, onHost, pool} from './common.js'

const IFACE = 'wg0'
const BEAM_DIR = `/etc/beam-mesh/${IFACE}`
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The stock client, told everything on the command line: no user config, the lab's key and known_hosts. */
function sshCommand(lab: BenchLab, h: LabHost): string {
  return ['ssh', '-F', '/dev/null', '-i', lab.result.identityFile, '-o', `UserKnownHostsFile=${lab.result.knownHostsFile}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-p', String(h.sshPort), `root@${h.address}`].map(q).join(' ')
}

/** A here-document that writes one file with its mode (the content never passes through argv). */
function writeFile(path: string, content: string, mode: string): string {
  const tag = 'MESH_FLOOR_EOF'
  if (content.includes(tag)) throw new Error(`${path}: content holds the here-document tag`)
  return `cat > ${q(`${path}.tmp`)} <<'${tag}'\n${content}${content.endsWith('\n') ? '' : '\n'}${tag}\nchmod ${mode} ${q(`${path}.tmp`)} && mv -f ${q(`${path}.tmp`)} ${q(path)}\n`
}

export interface FloorScripts {
  cold: string
  noop: string
  noopChecked: string
  ping: string
  pingVm: string
  /** Doctor's own checks by hand: see checkedDoctorBody. */
  doctorChecked: string
  /** The node + ssh2 floor's specs (bench/lib/ssh2-floor.mjs): the same per-host cold and no-op scripts. */
  ssh2Cold: string
  ssh2Noop: string
}

/**
 * Writes the floor's scripts for this lab from init's output folder (outDir) and the state dir's cookie.
 * meshIps: host name -> its tunnel address (from init's --json), for the ping sweep.
 */
export function writeFloorScripts(lab: BenchLab, outDir: string, stateDir: string, meshIps: Map<string, string>): FloorScripts {
  const dir = join(lab.dir, 'floor')
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const block = readFileSync(join(outDir, 'hosts.block'), 'utf8')
  const cookie = readFileSync(join(stateDir, 'secrets', 'cookie'), 'utf8')
  // Each host's managed files, read from init's output once per host: [path on the host, content, mode].
  const files = (h: LabHost): [string, string, string][] => [
    [`/etc/wireguard/${IFACE}.conf`, readFileSync(join(outDir, h.name, `${IFACE}.conf`), 'utf8'), '600'],
    [`${BEAM_DIR}/cookie`, cookie, '600'],
    ...['env.sh', 'vm.args', 'libcluster.exs'].map((f): [string, string, string] => [`${BEAM_DIR}/${f}`, readFileSync(join(outDir, h.name, f), 'utf8'), '644']),
  ]
  const scripts = {cold: [] as string[], noop: [] as string[], noopChecked: [] as string[], ping: [] as string[], pingVm: [] as string[], doctorChecked: [] as string[]}
  for (const h of lab.hosts) {
    const hostFiles = files(h)
    const cold = [
      'set -e',
      'umask 077',
      `mkdir -p /etc/wireguard ${BEAM_DIR}`,
      ...hostFiles.map(([path, content, mode]) => writeFile(path, content, mode)),
      // /etc/hosts is a bind mount in the lab (rename gives EBUSY): spliced and written in place, as mesh does.
      // The lab's hosts share the real /etc (only some files are mounted per host): the temp file gets its own name.
      't=$(mktemp)',
      `{ sed '/^# BEGIN beam-mesh ${IFACE}$/,/^# END beam-mesh ${IFACE}$/d' /etc/hosts; cat <<'MESH_FLOOR_EOF'\n${block}MESH_FLOOR_EOF\n} > "$t"`,
      'cat "$t" > /etc/hosts && rm -f "$t"',
      `wg-quick up ${IFACE}`,
    ].join('\n')
    const managed = hostFiles.map(([p]) => p).join(' ')
    const noop = `cat ${managed} /etc/hosts && wg show ${IFACE} dump`
    const noopChecked = [
      `sha256sum ${managed}`,
      `stat -L -c '%U %a %n' ${managed}`,
      'base64 < /etc/hosts',
      `wg show ${IFACE} dump | awk -F '\\t' 'NR > 1 { print $1, $4, $8 }'`,
    ].join(' && ')
    const others = lab.hosts.filter((o) => o.name !== h.name).map((o) => meshIps.get(o.name)!)
    // Every pair at once from this host; a lost ping fails the sweep (the mesh is meant to be healthy).
    // Each child's pid is kept and waited for: `jobs -p` lists nothing in a script read by `sh -s` (dash), so such a
    // wait returned at once and a child with its output redirected (the VM) was not waited for at all.
    const sweep = `pids=; for ip in ${others.join(' ')}; do ping -c 1 -W 5 -q "$ip" >/dev/null & pids="$pids $!"; done`
    const waitAll = 'fail=0; for p in $pids; do wait "$p" || fail=1; done; exit $fail'
    const ping = `${sweep}; ${waitAll}`
    const pingVm = `${sweep}; erl ${SHORT_LIVED_VM_FLAGS.join(' ')} -noshell -noinput -eval 'halt().' >/dev/null 2>&1 & pids="$pids $!"; ${waitAll}`
    const doctorChecked = checkedDoctorBody(h, lab.hosts, others)
    for (const [kind, body] of [['cold', cold], ['noop', noop], ['noopChecked', noopChecked], ['ping', ping], ['pingVm', pingVm], ['doctorChecked', doctorChecked]] as const) {
      const file = join(dir, `${kind}-${h.name}.sh`)
      writeFileSync(file, `${body}\n`, {mode: 0o600})
      // Each host's output stays apart (read back on failure); all start at once and the script waits for every one.
      scripts[kind].push(`${sshCommand(lab, h)} sh -s < ${q(file)} > ${q(`${file}.out`)} 2>&1 & pids="$pids $!"`)
    }
  }
  const ssh2Spec = (kind: 'cold' | 'noop') => {
    const file = join(dir, `ssh2-${kind}.json`)
    const hosts = lab.hosts.map((h) => ({address: h.address, port: h.sshPort, user: 'root', script: join(dir, `${kind}-${h.name}.sh`)}))
    writeFileSync(file, JSON.stringify({identityFile: lab.result.identityFile, knownHostsFile: lab.result.knownHostsFile, hosts}), {mode: 0o600})
    return file
  }
  const top = (kind: keyof typeof scripts) => {
    const file = join(dir, `${kind}.sh`)
    writeFileSync(file, ['umask 077', 'pids=', ...scripts[kind], 'rc=0', 'for p in $pids; do wait "$p" || rc=1; done', 'exit $rc', ''].join('\n'), {mode: 0o600})
    chmodSync(file, 0o600)
    return file
  }
  return {
    cold: top('cold'),
    noop: top('noop'),
    noopChecked: top('noopChecked'),
    ping: top('ping'),
    pingVm: top('pingVm'),
    doctorChecked: top('doctorChecked'),
    ssh2Cold: ssh2Spec('cold'),
    ssh2Noop: ssh2Spec('noop'),
  }
}

/**
 * The checked doctor floor: what doctor reads on a host and through its tunnel, done by hand with one ssh and one
 * Erlang VM per host, no SSH channel per probe. As doctor: three pings to every peer (0.2 s apart), the hostname,
 * getent for every mesh name in one process per family, /etc/hosts, Erlang's inet:getaddr and inet:getaddrs for
 * every name and family (the same expression), the wg dump without its keys; and from the VM, to every peer at once,
 * EPMD's NAMES answer and the start of a distribution handshake with the node it names (send_name, then the status
 * and the challenge), which doctor does through forwarded SSH channels. Fails on a lost ping or a failed probe.
 */
function checkedDoctorBody(h: LabHost, hosts: LabHost[], peerIps: string[]): string {
  const names = hosts.flatMap((o) => [o.name, `${o.name}-wg`])
  const pairs = hosts.flatMap((o) => [`${o.name}:inet`, `${o.name}:inet6`, `${o.name}-wg:inet`])
  const probes = [
    `FlFlags = ${PROBE_FLAGS},`,
    `FlName = list_to_binary("floor_" ++ integer_to_list(rand:uniform(1 bsl 30)) ++ "@${h.name}"),`,
    'FlSendName = <<"N", FlFlags:64, 1:32, (byte_size(FlName)):16, FlName/binary>>,',
    'FlAll = fun FlLoop(FlS, FlAcc) -> case gen_tcp:recv(FlS, 0, 3000) of {ok, FlB} -> FlLoop(FlS, <<FlAcc/binary, FlB/binary>>); {error, closed} -> FlAcc end end,',
    'FlProbe = fun(FlIp) ->',
    ' {ok, FlAddr} = inet:parse_address(FlIp),',
    ' {ok, FlE} = gen_tcp:connect(FlAddr, 4369, [binary, {active, false}], 3000),',
    ' ok = gen_tcp:send(FlE, <<0, 1, 110>>),',
    ' <<_:32, FlNames/binary>> = FlAll(FlE, <<>>),',
    ' {match, [FlPort]} = re:run(FlNames, "name app at port ([0-9]+)", [{capture, all_but_first, list}]),',
    ' {ok, FlD} = gen_tcp:connect(FlAddr, list_to_integer(FlPort), [binary, {active, false}, {packet, 2}], 3000),',
    ' ok = gen_tcp:send(FlD, FlSendName),',
    ' {ok, <<"s", _/binary>>} = gen_tcp:recv(FlD, 0, 3000),',
    ' {ok, <<"N", _/binary>>} = gen_tcp:recv(FlD, 0, 3000),',
    ' gen_tcp:close(FlD) end,',
    // Once more on any failure, as doctor makes a probe that timed out once more.
    'FlRefs = [element(2, spawn_monitor(fun() -> try FlProbe(FlIp) catch _:_ -> FlProbe(FlIp) end end)) || FlIp <- string:lexemes(os:getenv("FLOOR_PEERS", ""), " ")],',
    "FlBad = [FlR || FlRef <- FlRefs, FlR <- [receive {'DOWN', FlRef, _, _, FlR0} -> FlR0 end], FlR =/= normal],",
    'halt(case FlBad of [] -> 0; _ -> io:format(standard_error, "floor: probes failed: ~P~n", [FlBad, 20]), 1 end).',
  ].join(' ')
  const expr = `${ERL_RESOLVE_LINES}, ${probes}`
  return [
    `pings=; for ip in ${peerIps.join(' ')}; do ping -n -q -c 3 -i 0.2 -W 1 "$ip" >/dev/null & pings="$pings $!=$ip"; done`,
    'cat /proc/sys/kernel/hostname',
    `getent ahostsv4 ${names.join(' ')}; getent ahostsv6 ${names.join(' ')}`,
    'cat /etc/hosts',
    `MESH_RESOLVE=${q(pairs.join(' '))} FLOOR_PEERS=${q(peerIps.join(' '))} erl ${SHORT_LIVED_VM_FLAGS.join(' ')} -noshell -noinput -eval ${q(expr)} </dev/null || exit 1`,
    // As doctor: a peer that answered none of the three gets one more ping that waits up to 16 s.
    'late=; for p in $pings; do wait "${p%%=*}" || late="$late ${p#*=}"; done',
    'pids=; for ip in $late; do ping -n -q -c 1 -w 16 "$ip" >/dev/null & pids="$pids $!=$ip"; done',
    'fail=0; for p in $pids; do wait "${p%%=*}" || { echo "floor: no ping reply from ${p#*=}" >&2; fail=1; }; done',
    `wg show ${IFACE} dump | awk -F '\\t' 'NR > 1 { print $1, $4, $5, $6, $7 }'`,
    'exit $fail',
  ].join('\n')
}

/** Runs a floor script (`sh FILE`) and returns its wall time; throws with the first host's output on failure. */
export function runFloor(file: string, timeoutMs = 600_000): Promise<number> {
  return timed(['sh', file], timeoutMs, `floor ${file}`, ` (each host's output is in ${file.replace(/\.sh$/, '')}-<host>.sh.out)`)
}

const SSH2_FLOOR = fileURLToPath(new URL('ssh2-floor.mjs', import.meta.url))

/** Runs the node + ssh2 floor on a spec (FloorScripts.ssh2Cold/ssh2Noop) with this node; returns its wall time. */
export function runSsh2Floor(spec: string, timeoutMs = 600_000): Promise<number> {
  return timed([process.execPath, SSH2_FLOOR, spec], timeoutMs, `node + ssh2 floor ${spec}`, '')
}

/** The "floor: ..." lines of the host outputs of a floor script (FILE-<host>.sh.out beside FILE.sh), at most 10. */
function floorComplaints(file: string): string {
  const dir = dirname(file)
  const prefix = `${basename(file, '.sh')}-`
  const lines: string[] = []
  for (const f of readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith('.sh.out')).sort()) {
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l.startsWith('floor: ')) lines.push(`${f.slice(prefix.length, -'.sh.out'.length)}: ${l}`)
  }
  return lines.length ? `\n${lines.slice(0, 10).join('\n')}\n` : ''
}

function timed(argv: string[], timeoutMs: number, what: string, hint: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs})
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => {
      const ms = performance.now() - t0
      if (status === 0) return resolve(ms)
      // The hosts' own lines ("floor: ..." in each host's output), read now: the lab's folder goes with the lab.
      const said = argv[0] === 'sh' ? floorComplaints(argv[1]) : ''
      reject(new Error(`${what} exited ${status}: ${stderr.slice(0, 400)}${said}${hint}`))
    })
  })
}

/**
 * Puts every host back as it was before any apply (untimed, through the lab's own exec, not SSH): interface
 * down, the files gone, the hosts block out of /etc/hosts. Then a cold run of either side starts from the same place.
 */
export async function resetHosts(lab: BenchLab): Promise<void> {
  const script = [
    `wg-quick down ${IFACE} >/dev/null 2>&1 || ip link del ${IFACE} 2>/dev/null || true`,
    `rm -rf /etc/wireguard/${IFACE}.conf ${BEAM_DIR}`,
    `t=$(mktemp) && sed '/^# BEGIN beam-mesh ${IFACE}$/,/^# END beam-mesh ${IFACE}$/d' /etc/hosts > "$t" && cat "$t" > /etc/hosts && rm -f "$t"`,
  ].join('\n')
  await pool(lab.hosts, 8, async (h) => void (await onHost(h, script, {timeoutMs: 60_000})))
}
