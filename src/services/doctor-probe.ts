// Collecting doctor facts on one host over its SSH session: names, /etc/hosts, pings, wg, and TCP
// probes opened *from* the host (ssh direct-tcpip), so EPMD and the dist port are tested through the tunnel.
import type {Duplex} from 'node:stream'

import {DistProbeFact, EpmdProbeFact, DoctorHostFacts, LinkFacts, PingFact, PortState, portStateOf} from '../core/doctor-facts.js'
import {parseHostname} from '../core/parse.js'
import {findShadows, meshNames} from '../core/hosts-shadow.js'
import {Mesh, MeshHost, wgAlias} from '../core/model.js'
import {hostsMarkers, renderHostsBlock} from '../core/render.js'
import {ERL_RESOLVE_EXPR, NameAnswers, SHORT_LIVED_VM_FLAGS, blockState, parseAhosts, parseErlAnswers} from '../core/resolution-facts.js'
import {parseWgDump} from '../core/wgdump.js'
import {distProbe} from '../remote/dist-probe.js'
import {epmdNames} from '../remote/epmd-client.js'
import {IoTimer, ioTimeout} from '../remote/timeouts.js'
import {Transport} from '../remote/transport.js'
import {mapLimit} from './limit.js'

export const PROBE_TIMEOUT_MS = 3000
/**
 * Peers probed at once from one host (each is a channel of its SSH connection). All of them at once meant every
 * EPMD of a 64-host fleet got 63 connections in the same instant from its peers' doctors, and answered some too late.
 */
const PROBES_PER_HOST = 16
const EPMD_PORT = 4369

/** With $expr set and erl on PATH: Erlang's answers for the "NAME:FAMILY" arguments left in "$@", under @@erl. */
const ERL_NAMES = `if [ -n "$expr" ] && command -v erl >/dev/null 2>&1; then
  printf '@@erl\\n'; MESH_RESOLVE="$*" timeout 60 erl ${SHORT_LIVED_VM_FLAGS.join(' ')} -noshell -noinput -eval "$expr" 2>&1 </dev/null
fi`

/**
 * \`getent ahosts<v4|v6>\` for every mesh name in one process per family, printed as one
 * \`@@ahosts <family> <name>\` section per name. getaddrinfo names only the first answer of a name (its canonical
 * name, the first name of the /etc/hosts line), so the combined output splits into one block per name; that
 * split is used only when the named lines are exactly the names asked, in order. Otherwise (a name that did not
 * resolve, a canonical name that differs) each name is asked alone, as before: every answer stays attributed.
 * One process instead of one per name matters: a 64-host mesh asks 128 names per family on every host.
 */
export const AHOSTS_FUNCTIONS = `# ahosts_split OUT check|print FAMILY NAME...: walks OUT, fails unless its named lines are exactly the names.
ahosts_split() {
  out=$1 how=$2 fam=$3 cur=; shift 3
  printf '%s\\n' "$out" | {
    while IFS= read -r l; do
      case $l in
        *' '|'') [ -n "$cur" ] || exit 1 ;;
        *) [ $# -gt 0 ] || exit 1
           case $l in *" $1") ;; *) exit 1 ;; esac
           cur=$1; shift
           [ "$how" = check ] || printf '@@ahosts %s %s\\n' "$fam" "$cur" ;;
      esac
      [ "$how" = check ] || printf '%s\\n' "$l"
    done
    [ $# -eq 0 ]
  }
}
# ahosts FAMILY v4|v6 NAME...
ahosts() {
  fam=$1 v=$2; shift 2
  [ $# -gt 0 ] || return 0
  all=$(getent "ahosts$v" "$@")
  if ahosts_split "$all" check "$fam" "$@"; then ahosts_split "$all" print "$fam" "$@"; return 0; fi
  for n in "$@"; do printf '@@ahosts %s %s\\n' "$fam" "$n"; getent "ahosts$v" "$n"; done
  return 0
}`

/**
 * Everything doctor reads on a host, in one round trip: pings to every peer (started first, in the background,
 * so they run while names resolve: erl alone takes a second or more), the hostname, every getent answer per mesh
 * name and family, /etc/hosts, Erlang's own answers (where erl is installed), then, once the pings are done so
 * the handshakes read are fresh, the wg dump (root: through sudo -n unless we are root).
 * Args: the Erlang expression ('' = no erl here: the cluster probe's VM asks the names), the interface, the dump
 * script, "sudo" or "", peer IPs..., --, names..., --, name:family pairs for erl. erl runs without -sname: no
 * distribution, no epmd started; with one scheduler that sleeps when idle, since every host boots one at once.
 * Processes per peer are few on purpose (one ping each, names in one getent per family): N hosts run N^2. Every
 * program started costs a few milliseconds on a small host, so none is started where the shell can do it.
 */
export const PROBE_SCRIPT = `expr=$1; iface=$2; dump=$3; sudo=$4; shift 4
${AHOSTS_FUNCTIONS}
# Each ping's report goes to our stderr, which nothing else writes to: ping writes it once, at its exit, and a
# write of under 4 KiB to a pipe is never split, so the reports of all the pings arrive whole, each naming its address.
exec 3>&2 2>/dev/null
# The host's own clock before the first ping (one process per host): a peer's latest handshake older than this
# had a session before the pings went out, whatever the controller's clock says.
printf '@@pingclock\\n'; date +%s
pings=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  ping -n -q -c 3 -i 0.2 -W 1 "$1" >&3 &
  pings="$pings $!=$1"
  shift
done
[ $# -gt 0 ] && shift
printf '@@hostname\\n'
if read -r h < /proc/sys/kernel/hostname; then printf '%s\\n' "$h"; else hostname; fi
names=
while [ $# -gt 0 ] && [ "$1" != -- ]; do names="$names $1"; shift; done
[ $# -gt 0 ] && shift
# Mesh names are host labels (letters, digits, dashes): split on the spaces they were joined with, no globbing.
set -f
ahosts inet v4 $names
ahosts inet6 v6 $names
set +f
printf '@@hosts\\n'; cat /etc/hosts
${ERL_NAMES}
# A peer that answered none of the three (ping's status 1; 2 is an error here, such as no route) may have no
# working session yet: two hosts brought up at the same moment can cross their handshakes. WireGuard mends that
# by itself: it retries a handshake 5 s after the last, and starts a new one 15 s after data went unanswered.
# One more ping, answered within 16 s, tells such a tunnel from a dead one. Its report comes after the @@late
# line (every first report is in by then).
late=
for p in $pings; do wait "\${p%%=*}"; [ $? -eq 1 ] && late="$late \${p#*=}"; done
if [ -n "$late" ]; then
  printf '@@late\\n' >&3
  for ip in $late; do ping -n -q -c 1 -w 16 "$ip" >&3 & done
fi
wait
printf '@@dump\\n'
\${sudo:+sudo -n --} sh -c "$dump" mesh "$iface"
printf '@@dumpstatus %s\\n' "$?"
exit 0`

/**
 * The dump without its secrets: the first line's private key and each peer's preshared key are replaced on the host
 * (by awk, which alone sees wg's output), so neither ever leaves it; whether a peer has a preshared key still shows.
 * One wg and one awk: doctor runs this on every host at once. No output (the interface is down) exits 1.
 */
export const DUMP_SCRIPT = `wg show "$1" dump | awk -F '\\t' -v OFS='\\t' '
  NR == 1 { $1 = "(hidden)" }
  NR > 1 && $2 != "(none)" { $2 = "(hidden)" }
  { print }
  END { if (NR == 0) exit 1 }'`

function sections(out: string): Map<string, string[]> {
  const map = new Map<string, string[]>()
  let cur: string[] | null = null
  for (const line of out.split('\n')) {
    if (line.startsWith('@@')) map.set(line.slice(2), (cur = []))
    else cur?.push(line)
  }
  return map
}

/**
 * \`ping -q\` reports, in any order and among other lines: "--- ADDRESS ping statistics ---" and, on the next line,
 * "N packets transmitted, M received". A ping that never reported (it could not start) is missing: all lost.
 * Reports after an "@@late" line are of the second ping to a peer that answered none of the first.
 */
export function parsePingReports(out: string): Map<string, PingFact> {
  const pings = new Map<string, PingFact>()
  const lines = out.split('\n')
  let late = false
  for (let i = 0; i < lines.length - 1; i++) {
    if (lines[i] === '@@late') late = true
    const ip = /^--- (\S+) ping statistics ---$/.exec(lines[i])?.[1]
    const stats = ip ? /^(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(lines[i + 1]) : null
    if (!ip || !stats) continue
    const counts = {sent: Number(stats[1]), received: Number(stats[2])}
    const first = pings.get(ip)
    if (!late) pings.set(ip, counts)
    else if (first) first.late = counts
  }
  return pings
}

/** A TCP connection opened from a host; timedOut: nothing came back before our timeout (silence, not a refusal). */
export interface OpenResult {
  socket?: Duplex
  state: PortState
  detail?: string
  timedOut?: boolean
}

/** A TCP connection from the host, with our own timeout: sshd may wait minutes on a dropped SYN. */
export async function openFrom(t: Transport, host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<OpenResult> {
  let timer: IoTimer | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = ioTimeout(timeoutMs, () => reject(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})))
  })
  const attempt = t.openTcp(host, port)
  try {
    return {socket: await Promise.race([attempt, timeout]), state: 'open'}
  } catch (e) {
    attempt.then((s) => s.destroy(), () => undefined)
    const msg = (e as Error).message
    // "closed" says it all (connection refused); any other failure keeps its message for the report.
    if (/refused/i.test(msg)) return {state: 'closed'}
    return {state: 'filtered', detail: msg, ...((e as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? {timedOut: true} : {})}
  } finally {
    timer?.clear()
  }
}

/**
 * A probe of a port that should answer (through the tunnel, or on the host itself) that timed out, at the
 * channel or at the exchange, is made once more before it counts: on a loaded host (a whole fleet's probes
 * arrive at each EPMD at once) the first try may wait its turn past the timeout, while a port that really drops
 * packets costs twice the timeout. Exposure probes, where silence is the healthy answer, are not retried.
 */
async function twiceOnTimeout<T>(probe: () => Promise<{fact: T; timedOut: boolean}>): Promise<T> {
  const first = await probe()
  return first.timedOut ? (await probe()).fact : first.fact
}

export function probeEpmd(t: Transport, address: string): Promise<EpmdProbeFact> {
  return twiceOnTimeout(async (): Promise<{fact: EpmdProbeFact; timedOut: boolean}> => {
    const conn = await openFrom(t, address, EPMD_PORT)
    if (!conn.socket) return {fact: {state: conn.state, detail: conn.detail}, timedOut: Boolean(conn.timedOut)}
    const res = await epmdNames(conn.socket, PROBE_TIMEOUT_MS)
    if (res.ok) return {fact: {state: 'open', nodes: res.value.nodes}, timedOut: false}
    return {fact: {state: portStateOf(res), detail: res.message}, timedOut: res.reason === 'timeout'}
  })
}

function probeDist(t: Transport, address: string, port: number, dialledName: string): Promise<DistProbeFact> {
  return twiceOnTimeout(async (): Promise<{fact: DistProbeFact; timedOut: boolean}> => {
    const conn = await openFrom(t, address, port)
    if (!conn.socket) return {fact: {port, state: conn.state, detail: conn.detail}, timedOut: Boolean(conn.timedOut)}
    const res = await distProbe(conn.socket, {dialledName, timeoutMs: PROBE_TIMEOUT_MS})
    if (!res.ok) return {fact: {port, state: 'open', detail: res.message}, timedOut: res.reason === 'timeout'}
    return {fact: {port, state: 'open', announcedName: res.value.nodeName, nameMatches: res.value.nameMatches}, timedOut: false}
  })
}

const family = (ip: string | null | undefined) => (ip?.includes(':') ? 'v6' : 'v4')
const meshIp = (h: MeshHost) => h.ipv4 ?? h.ipv6!

export interface ProbeContext {
  mesh: Mesh
  nodeName: (h: MeshHost) => string
  /** The controller's clock, epoch seconds (doctor's --now in tests). */
  now: () => number
  /** namesToAsk(mesh), computed once for every host. */
  names: MeshNamesToAsk
}

/** Every mesh name (own and peers', with the -wg aliases the block maps) and the families the block gives it. */
export interface MeshNamesToAsk {
  getent: string[]
  /** "NAME:FAMILY" pairs for Erlang's resolver. */
  erl: string[]
}

export function namesToAsk(mesh: Mesh): MeshNamesToAsk {
  const names = meshNames(mesh)
  const all = mesh.hosts.flatMap((h) => [h.name, wgAlias(h.name)]).filter((n) => names.has(n.toLowerCase()))
  const erl = all.flatMap((n) => [...new Set([...names.get(n.toLowerCase())!].map((a) => (a.includes(':') ? 'inet6' : 'inet')))].map((fam) => `${n}:${fam}`))
  return {getent: all, erl}
}

/**
 * Everything one host can tell about itself and, through the tunnel, about its peers. erl: false leaves Erlang's
 * answers to the caller (the cluster probe's VM asks them: one VM per host instead of two).
 */
export async function probeHost(t: Transport, host: MeshHost, ctx: ProbeContext, opts: {erl?: boolean} = {}): Promise<DoctorHostFacts> {
  const peers = ctx.mesh.hosts.filter((h) => h.name !== host.name)
  const ask = ctx.names
  const args = [opts.erl === false ? '' : ERL_RESOLVE_EXPR, ctx.mesh.interface, DUMP_SCRIPT, t.user === undefined || t.user === 'root' ? '' : 'sudo', ...peers.map(meshIp), '--', ...ask.getent, '--', ...ask.erl]
  const probe = await t.run(['sh', '-c', PROBE_SCRIPT, 'mesh', ...args])
  const wgReadAtEpochS = Math.floor(ctx.now())
  const namesOut = sections(probe.stdout)
  const pingClock = Number((namesOut.get('pingclock') ?? [])[0])
  const hostname = parseHostname((namesOut.get('hostname') ?? []).join('\n'))
  const answers: NameAnswers[] = []
  for (const [key, lines] of namesOut) {
    const m = /^ahosts (inet6?) (\S+)$/.exec(key)
    if (m) answers.push(parseAhosts(m[2], m[1] as 'inet' | 'inet6', lines.join('\n')))
  }
  if (namesOut.has('erl')) answers.push(...parseErlAnswers(namesOut.get('erl')!.join('\n')))
  // The first getaddrinfo answer per peer name, as earlier doctors reported it.
  const resolve: DoctorHostFacts['resolve'] = {}
  for (const p of peers) {
    for (const [name, ip] of [[p.name, meshIp(p)], [wgAlias(p.name), p.endpointIp]] as const) {
      if (!ip) continue
      const first = answers.find((a) => a.name === name && a.resolver.startsWith('getent') && a.family === (family(ip) === 'v6' ? 'inet6' : 'inet'))?.addresses[0]
      resolve[name] = first ? {address: first, names: [name]} : null
    }
  }
  const hostsFile = (namesOut.get('hosts') ?? []).join('\n')
  const {begin, end} = hostsMarkers(ctx.mesh.interface)

  const pings = parsePingReports(probe.stderr)
  const dumpOk = namesOut.get(`dumpstatus 0`) !== undefined
  const wgParsed = dumpOk ? parseWgDump((namesOut.get('dump') ?? []).join('\n')) : null
  const wg = wgParsed?.ok ? wgParsed.value : null

  const links: Record<string, LinkFacts> = {}
  // TCP probes are channels of the same connection: local and own EPMD beside the links, PROBES_PER_HOST peers at once.
  const localEpmd = probeEpmd(t, '127.0.0.1')
  const selfEpmd = ctx.mesh.beam.epmd && wg ? probeEpmd(t, meshIp(host)) : undefined
  await mapLimit(peers, PROBES_PER_HOST, async (p) => {
    const link: LinkFacts = {ping: pings.get(meshIp(p)) ?? {sent: 3, received: 0}}
    if (wg && !ctx.mesh.beam.epmd) {
      // EPMD-less: every node listens on the one fixed port; dial it directly.
      link.dist = await probeDist(t, meshIp(p), ctx.mesh.beam.distPortMin, ctx.nodeName(p))
    } else if (wg) {
      link.epmd = await probeEpmd(t, meshIp(p))
      const alive = ctx.nodeName(p).split('@')[0]
      const node = link.epmd.nodes?.find((n) => n.name === alive)
      if (node) link.dist = await probeDist(t, meshIp(p), node.port, ctx.nodeName(p))
    }
    links[p.name] = link
  })
  return {
    host: host.name,
    connected: true,
    hostname: hostname.ok ? hostname.value : undefined,
    wg,
    ...(wg ? {wgReadAtEpochS} : {}),
    ...(Number.isSafeInteger(pingClock) && pingClock > 0 ? {pingsStartedAtHostEpochS: pingClock} : {}),
    resolve,
    answers,
    shadows: findShadows(hostsFile, meshNames(ctx.mesh), ctx.mesh.interface, {otherBlocks: true}),
    hostsBlock: blockState(hostsFile, renderHostsBlock(ctx.mesh), begin, end),
    localEpmd: await localEpmd,
    ...(selfEpmd ? {selfEpmd: await selfEpmd} : {}),
    links,
  }
}

/** Erlang's answers for `pairs` ("NAME:FAMILY") on its own (a VM with no distribution), as the SSH user; [] without erl. */
export async function probeErlNames(t: Transport, pairs: string[]): Promise<NameAnswers[]> {
  const out = (await t.run(['sh', '-c', `expr=$1; shift\n${ERL_NAMES}\nexit 0`, 'mesh', ERL_RESOLVE_EXPR, ...pairs])).stdout
  const section = sections(out).get('erl')
  return section ? parseErlAnswers(section.join('\n')) : []
}

/** Host `target`'s public side, dialled from a peer's session: 4369 and the dist ports must not answer. */
export async function probeExposure(from: Transport, target: MeshHost, distPorts: number[]): Promise<DoctorHostFacts['exposure']> {
  if (!target.endpointIp) return undefined
  // All at once: behind a dropping firewall (the healthy case) each probe waits out its full timeout.
  const [epmd, ...dist] = await Promise.all(
    [EPMD_PORT, ...distPorts].map(async (port) => {
      const c = await openFrom(from, target.endpointIp!, port)
      c.socket?.destroy()
      return {port, state: c.state}
    }),
  )
  return {epmd: epmd.state, dist}
}
