// The cluster view of `mesh doctor`: on each host, a short-lived HIDDEN Erlang node asks the running node
// for erlang:nodes(). Read-only by construction: the probe is hidden (it never appears in nodes() and is
// never passed on to other nodes), it does not listen at all (-dist_listen false: no port, no EPMD entry),
// never starts an EPMD (-start_epmd false), never auto-connects (dist_auto_connect never, connect_all
// false), and it calls nothing on the node but erlang:nodes/0. The cookie stays on the host: the probe runs
// with HOME set to a private temp dir holding a copy of the cookie file (erl reads $HOME/.erlang.cookie),
// so it is never in argv, in the output or on the wire to the controller.
import {randomBytes} from 'node:crypto'

import {remoteErlFlags} from '../core/beam.js'
import {beamPaths} from '../core/beam-paths.js'
import {ClusterProbeFact, parseClusterProbe} from '../core/cluster-facts.js'
import {ERL_RESOLVE_LINES, NameAnswers, SHORT_LIVED_VM_FLAGS, parseErlAnswers} from '../core/resolution-facts.js'
import {Mesh, MeshHost} from '../core/model.js'
import {Transport} from '../remote/transport.js'

/** The mesh cookie file on a host (/etc/beam-mesh/<interface>/cookie): the one place the probe takes it from. */
export function meshCookiePath(mesh: Mesh): string {
  return beamPaths(mesh.interface).cookie
}

/** Whole probe, erl start-up included (a loaded host takes a few seconds to boot a VM). */
export const CLUSTER_PROBE_TIMEOUT_MS = 75_000

/**
 * The Erlang side. The handshake's failure reason is not returned by connect_node, so dist_util's
 * shutdown/4 is traced: only its tag (an atom) is printed, and the name a node announced, never a whole
 * term. The `@@timeout` guard halts the VM whatever happens (net_setuptime bounds the dial itself).
 */
const EVAL = `T = list_to_atom(os:getenv("MESH_NODE")),
spawn(fun() -> timer:sleep(50000), io:format("@@timeout~n"), halt(3) end),
io:format("@@resolve~n"),
${ERL_RESOLVE_LINES},
io:format("@@resolved~n"),
code:ensure_loaded(dist_util),
erlang:trace_pattern({dist_util, shutdown, 4}, true, [local]),
erlang:trace(new_processes, true, [call, {tracer, self()}]),
C = net_kernel:connect_node(T),
io:format("@@connect ~s~n", [C]),
Tag = fun(X) when is_atom(X) -> X; (X) when is_tuple(X), is_atom(element(1, X)) -> element(1, X); (_) -> other end,
case C of
  true ->
    case rpc:call(T, erlang, nodes, [], 15000) of
      L when is_list(L) -> io:format("@@nodes~s~n", [[[" ", atom_to_list(N)] || N <- L, is_atom(N)]]);
      E -> io:format("@@rpcfail ~s~n", [Tag(E)])
    end;
  _ ->
    receive
      {trace, _, call, {dist_util, shutdown, [_, _, _, {recv_challenge_failed, no_node, Name} = R]}} when is_list(Name); is_binary(Name) ->
        io:format("@@reason ~s~n@@announced ~s~n", [Tag(R), Name]);
      {trace, _, call, {dist_util, shutdown, [_, _, _, R]}} -> io:format("@@reason ~s~n", [Tag(R)])
    after 1000 -> io:format("@@reason none~n")
    end,
    case os:getenv("MESH_EPMD") of
      "true" -> case catch net_adm:names() of {ok, Ns} -> io:format("@@names~s~n", [[[" ", Nm] || {Nm, _} <- Ns]]); _ -> ok end;
      _ -> ok
    end
end,
halt().`

/**
 * Finds erl (under the release root first: a release bundles erts-*\/bin/erl and boots from its own
 * releases/<vsn>/start_clean), copies the cookie into a private HOME, runs the probe, removes the copy.
 * $1 release root ('' = none), $2 cookie file, $3 the Erlang code, then erl's flags.
 */
const SCRIPT = `root=$1 cookie=$2 code=$3; shift 3
erl="" boot=""
if [ -n "$root" ]; then
  for e in "$root"/erts-*/bin/erl; do [ -x "$e" ] && erl=$e; done
  if [ -n "$erl" ] && [ -r "$root/releases/start_erl.data" ]; then
    read -r _erts vsn < "$root/releases/start_erl.data"
    [ -f "$root/releases/$vsn/start_clean.boot" ] && boot="-boot $root/releases/$vsn/start_clean -boot_var RELEASE_LIB $root/lib"
  fi
fi
[ -n "$erl" ] || erl=$(command -v erl) || { printf '@@noerl %s\\n' "\${root:+$root/erts-*/bin/erl, }PATH=$PATH"; exit 0; }
printf '@@erl %s\\n' "$erl"
[ -r "$cookie" ] || { printf '@@nocookie %s\\n' "$cookie"; exit 0; }
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT HUP INT TERM
cp "$cookie" "$d/.erlang.cookie" && chmod 400 "$d/.erlang.cookie" || exit 1
HOME=$d "$erl" $boot "$@" -noshell -noinput -eval "$code"`

/** erl's flags for the probe: hidden, no listener, no EPMD of its own, no auto-connect; the mesh's naming. */
export function probeErlFlags(mesh: Mesh, host: MeshHost, probeName: string): string[] {
  const self = mesh.beam.naming === 'name' ? ['-name', `${probeName}@${host.ipv4}`] : ['-sname', probeName]
  return [
    // The flags of a release's short-lived nodes: -dist_listen false -start_epmd false (+ the fixed port without EPMD).
    ...SHORT_LIVED_VM_FLAGS, '-hidden', ...self, ...remoteErlFlags(mesh.beam).split(' '),
    '-connect_all', 'false', '-kernel', 'dist_auto_connect', 'never', '-kernel', 'net_setuptime', '15',
    ...(host.ipv4 ? [] : ['-proto_dist', 'inet6_tcp']),
  ]
}

export interface ClusterProbeContext {
  mesh: Mesh
  nodeName: (h: MeshHost) => string
}

export interface ClusterProbe {
  fact: ClusterProbeFact
  /**
   * Erlang's answers for the mesh names, asked by the same VM before it dials (one VM per host for both); null
   * when the VM did not get that far (no erl, no cookie, a VM that would not start): the caller asks them apart.
   */
  answers: NameAnswers[] | null
}

/** The "@@resolve" section of the probe's output, when it is complete. */
function resolveSection(stdout: string): NameAnswers[] | null {
  const start = stdout.indexOf('@@resolve\n')
  const end = stdout.indexOf('@@resolved\n', start)
  return start < 0 || end < 0 ? null : parseErlAnswers(stdout.slice(start + '@@resolve\n'.length, end))
}

/**
 * One host: ask its node whom it is connected to, and first resolve `resolve` ("NAME:FAMILY" pairs) with
 * Erlang's own resolver. Never throws: a failure is a fact.
 */
export async function probeCluster(t: Transport, host: MeshHost, ctx: ClusterProbeContext, resolve: string[] = []): Promise<ClusterProbe> {
  const node = ctx.nodeName(host)
  const probeName = `beam_mesh_doctor_${randomBytes(4).toString('hex')}`
  // MESH_NODE/MESH_EPMD/MESH_RESOLVE reach erl through env(1): plain values, no secret.
  const argv = ['env', `MESH_NODE=${node}`, `MESH_EPMD=${ctx.mesh.beam.epmd}`, `MESH_RESOLVE=${resolve.join(' ')}`, 'sh', '-c', SCRIPT, 'mesh-doctor',
    ctx.mesh.beam.releaseRoot ?? '', meshCookiePath(ctx.mesh), EVAL, ...probeErlFlags(ctx.mesh, host, probeName)]
  try {
    // As root: the cookie file is root 0600 (or the release user's 0400).
    const r = await t.run(argv, {sudo: true, timeoutMs: CLUSTER_PROBE_TIMEOUT_MS})
    return {fact: parseClusterProbe(host.name, node, r), answers: resolve.length ? resolveSection(r.stdout) : null}
  } catch (e) {
    // The transport's message quotes the whole command (the script): name the probe instead.
    return {fact: {host: host.name, node, status: 'failed', detail: `the probe failed: ${(e as Error).message.replace(/`[^`]*`/s, 'the probe')}`}, answers: null}
  }
}
