// Collecting doctor facts on one host over its SSH session: names, /etc/hosts, pings, wg, and TCP
// probes opened *from* the host (ssh direct-tcpip), so EPMD and the dist port are tested through the tunnel.
import type {Duplex} from 'node:stream'

import {DistProbeFact, EpmdProbeFact, DoctorHostFacts, LinkFacts, PortState, portStateOf} from '../core/doctor-facts.js'
import {parseHostname} from '../core/parse.js'
import {findShadows, meshNames} from '../core/hosts-shadow.js'
import {Mesh, MeshHost, wgAlias} from '../core/model.js'
import {hostsMarkers, renderHostsBlock} from '../core/render.js'
import {ERL_RESOLVE_EXPR, NameAnswers, blockState, parseAhosts, parseErlAnswers} from '../core/resolution-facts.js'
import {parseWgDump} from '../core/wgdump.js'
import {distProbe} from '../remote/dist-probe.js'
import {epmdNames} from '../remote/epmd-client.js'
import {Transport} from '../remote/transport.js'

export const PROBE_TIMEOUT_MS = 3000
const EPMD_PORT = 4369

/**
 * Everything doctor reads on a host, in one round trip: pings to every peer (started first, in the background,
 * so they run while names resolve: erl alone takes a second or more), the hostname, every getent answer per mesh
 * name and family, /etc/hosts, Erlang's own answers (where erl is installed), then, once the pings are done so
 * the handshakes read are fresh, the wg dump (root: through sudo -n unless we are root).
 * Args: the Erlang expression, the interface, the dump script, "sudo" or "", peer IPs..., --, names..., --,
 * name:family pairs for erl. erl runs without -sname: no distribution, no epmd started.
 */
const PROBE_SCRIPT = `expr=$1; iface=$2; dump=$3; sudo=$4; shift 4
pd=$(mktemp -d) || exit 1
trap 'rm -rf -- "$pd"' EXIT
n=0
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  ( s=$(ping -n -q -c 3 -i 0.2 -W 1 "$1" 2>/dev/null | grep 'packets transmitted'); printf '@@ping %s %s\\n' "$1" "$s" > "$pd/$n" ) &
  n=$((n + 1)); shift
done
[ $# -gt 0 ] && shift
printf '@@hostname\\n'; hostname
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  printf '@@ahosts inet %s\\n' "$1"; getent ahostsv4 "$1"
  printf '@@ahosts inet6 %s\\n' "$1"; getent ahostsv6 "$1"
  shift
done
[ $# -gt 0 ] && shift
printf '@@hosts\\n'; cat /etc/hosts
if command -v erl >/dev/null 2>&1; then printf '@@erl\\n'; timeout 60 erl -noshell -noinput -eval "$expr" -extra "$@" 2>&1 </dev/null; fi
wait
[ "$n" -eq 0 ] || cat "$pd"/*
printf '@@dump\\n'
\${sudo:+sudo -n --} sh -c "$dump" mesh "$iface"
printf '@@dumpstatus %s\\n' "$?"
exit 0`

/** The dump without its first line's private key: the key never leaves the host. */
const DUMP_SCRIPT = `set -e
pub=$(wg show "$1" public-key); port=$(wg show "$1" listen-port); fw=$(wg show "$1" fwmark)
printf '(hidden)\\t%s\\t%s\\t%s\\n' "$pub" "$port" "$fw"
wg show "$1" dump | tail -n +2`

function sections(out: string): Map<string, string[]> {
  const map = new Map<string, string[]>()
  let cur: string[] | null = null
  for (const line of out.split('\n')) {
    if (line.startsWith('@@')) map.set(line.slice(2), (cur = []))
    else cur?.push(line)
  }
  return map
}

/** A TCP connection from the host, with our own timeout: sshd may wait minutes on a dropped SYN. */
export async function openFrom(t: Transport, host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<{socket?: Duplex; state: PortState; detail?: string}> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})), timeoutMs)
  })
  const attempt = t.openTcp(host, port)
  try {
    return {socket: await Promise.race([attempt, timeout]), state: 'open'}
  } catch (e) {
    attempt.then((s) => s.destroy(), () => undefined)
    const msg = (e as Error).message
    // "closed" says it all (connection refused); any other failure keeps its message for the report.
    return /refused/i.test(msg) ? {state: 'closed'} : {state: 'filtered', detail: msg}
  } finally {
    clearTimeout(timer)
  }
}

export async function probeEpmd(t: Transport, address: string): Promise<EpmdProbeFact> {
  const conn = await openFrom(t, address, EPMD_PORT)
  if (!conn.socket) return {state: conn.state, detail: conn.detail}
  const res = await epmdNames(conn.socket, PROBE_TIMEOUT_MS)
  return res.ok ? {state: 'open', nodes: res.value.nodes} : {state: portStateOf(res), detail: res.message}
}

async function probeDist(t: Transport, address: string, port: number, dialledName: string): Promise<DistProbeFact> {
  const conn = await openFrom(t, address, port)
  if (!conn.socket) return {port, state: conn.state, detail: conn.detail}
  const res = await distProbe(conn.socket, {dialledName, timeoutMs: PROBE_TIMEOUT_MS})
  if (!res.ok) return {port, state: 'open', detail: res.message}
  return {port, state: 'open', announcedName: res.value.nodeName, nameMatches: res.value.nameMatches}
}

const family = (ip: string | null | undefined) => (ip?.includes(':') ? 'v6' : 'v4')
const meshIp = (h: MeshHost) => h.ipv4 ?? h.ipv6!

export interface ProbeContext {
  mesh: Mesh
  nodeName: (h: MeshHost) => string
}

/** Everything one host can tell about itself and, through the tunnel, about its peers. */
/** Every mesh name (own and peers', with the -wg aliases the block maps) and the families the block gives it. */
function namesToAsk(mesh: Mesh): {getent: string[]; erl: string[]} {
  const names = meshNames(mesh)
  const all = mesh.hosts.flatMap((h) => [h.name, wgAlias(h.name)]).filter((n) => names.has(n.toLowerCase()))
  const erl = all.flatMap((n) => [...new Set([...names.get(n.toLowerCase())!].map((a) => (a.includes(':') ? 'inet6' : 'inet')))].map((fam) => `${n}:${fam}`))
  return {getent: all, erl}
}

export async function probeHost(t: Transport, host: MeshHost, ctx: ProbeContext): Promise<DoctorHostFacts> {
  const peers = ctx.mesh.hosts.filter((h) => h.name !== host.name)
  const ask = namesToAsk(ctx.mesh)
  const args = [ERL_RESOLVE_EXPR, ctx.mesh.interface, DUMP_SCRIPT, t.user === undefined || t.user === 'root' ? '' : 'sudo', ...peers.map(meshIp), '--', ...ask.getent, '--', ...ask.erl]
  const probeOut = (await t.run(['sh', '-c', PROBE_SCRIPT, 'mesh', ...args])).stdout
  const namesOut = sections(probeOut)
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

  const pings = new Map<string, {sent: number; received: number}>()
  for (const m of probeOut.matchAll(/^@@ping (\S+) (\d+) packets transmitted, (\d+) (?:packets )?received/gm)) {
    pings.set(m[1], {sent: Number(m[2]), received: Number(m[3])})
  }
  const dumpOk = namesOut.get(`dumpstatus 0`) !== undefined
  const wgParsed = dumpOk ? parseWgDump((namesOut.get('dump') ?? []).join('\n')) : null
  const wg = wgParsed?.ok ? wgParsed.value : null

  const links: Record<string, LinkFacts> = {}
  // Every TCP probe at once (each is a channel of the same connection): links, local EPMD, own EPMD.
  const localEpmd = probeEpmd(t, '127.0.0.1')
  const selfEpmd = ctx.mesh.beam.epmd && wg ? probeEpmd(t, meshIp(host)) : undefined
  await Promise.all(
    peers.map(async (p) => {
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
    }),
  )
  return {
    host: host.name,
    connected: true,
    hostname: hostname.ok ? hostname.value : undefined,
    wg,
    resolve,
    answers,
    shadows: findShadows(hostsFile, meshNames(ctx.mesh), ctx.mesh.interface, {otherBlocks: true}),
    hostsBlock: blockState(hostsFile, renderHostsBlock(ctx.mesh), begin, end),
    localEpmd: await localEpmd,
    ...(selfEpmd ? {selfEpmd: await selfEpmd} : {}),
    links,
  }
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
