// The individual doctor checks. Each turns facts into findings with a concrete fix; none does I/O.
// Host checks look at one host; pair checks look at what host A saw of peer B.
import {beamPaths} from './beam-paths.js'
import type {DoctorHostFacts, LinkFacts} from './doctor-facts.js'
import type {CheckContext, CheckId, Finding, Severity} from './doctor-report.js'
import {resolutionHostChecks, resolutionPairChecks} from './doctor-resolution.js'
import type {MeshHost} from './model.js'
import {wgAlias} from './model.js'
import {REJECT_AFTER_TIME_S, WgPeerFact, handshakeAge} from './wgdump.js'

const f = (severity: Severity, host: string, check: CheckId, label: string, message: string, hint: string, peer?: string): Finding =>
  ({severity, host, ...(peer ? {peer} : {}), check, label, message, hint})

const alive = (ctx: CheckContext, h: MeshHost) => ctx.nodeName(h).split('@')[0]
const applyHint = (host: string) => `mesh apply --hosts ${host}`
/** Hints that start epmd or a node carry the tunnel's addresses, never a bind to every interface. */
const meshAddrs = (h: MeshHost) => [h.ipv4, h.ipv6].filter(Boolean).join(',')

export function hostChecks(ctx: CheckContext, host: MeshHost, facts: DoctorHostFacts): Finding[] {
  const out: Finding[] = []
  const n = host.name
  const iface = ctx.mesh.interface
  if (facts.hostname && facts.hostname.short !== n && ctx.mesh.beam.naming === 'name') {
    // With -name the node's host part is its WireGuard address: the hostname does not break distribution.
    out.push(f('warn', n, 'hostname', 'hostname', `hostname is "${facts.hostname.hostname}", the inventory says "${n}" (node names use the WireGuard address with naming: name, so distribution is unaffected)`,
      `hostnamectl set-hostname ${n}, or rename the host in the inventory`))
  } else if (facts.hostname && facts.hostname.short !== n) {
    // Erlang takes the host part of -sname from the hostname, byte for byte; peers dial app@<inventory name>.
    out.push(f('fail', n, 'hostname', 'hostname', `hostname is "${facts.hostname.hostname}", the inventory says "${n}": peers dialling ${ctx.nodeName(host)} reach a node with another name and the connection is refused`,
      `hostnamectl set-hostname ${n} (then restart the release), or rename the host in the inventory`))
  }
  if (facts.wg === null) {
    out.push(f('fail', n, 'wg-interface', 'wg down', `interface ${iface} is not up`, `${applyHint(n)}, or on the host: wg-quick up ${iface}`))
  } else if (facts.wg) {
    const i = facts.wg.interface
    if (i.publicKey !== host.publicKey) {
      // network.keys: host: the host's own key is the truth; apply collects it and gives it to every peer.
      const fix = ctx.mesh.keys === 'host' ? 'mesh apply (collects the key the host holds and gives every peer its public key)' : `${applyHint(n)} to install the key from the state (do not regenerate keys by hand)`
      out.push(f('fail', n, 'wg-key', 'wg key', `${iface} runs with public key ${i.publicKey ?? '(none)'}, the saved state has ${host.publicKey || '(none collected yet)'}: peers will not accept its handshakes`, fix))
    }
    if (i.listenPort !== host.listenPort) {
      out.push(f('fail', n, 'wg-port', 'wg port', `${iface} listens on UDP ${i.listenPort}, peers send to ${host.listenPort}`, applyHint(n)))
    }
  }
  out.push(...resolutionHostChecks(ctx, host, facts))
  if (ctx.mesh.beam.epmd && facts.localEpmd) {
    const e = facts.localEpmd
    if (e.state !== 'open') {
      out.push(f('fail', n, 'epmd-local', 'no epmd', `epmd is not running on ${n} (127.0.0.1:4369 ${e.state}${e.detail ? `: ${e.detail}` : ''})`, `start the release with ${beamPaths(ctx.mesh.interface).envSh} sourced (it binds epmd to the tunnel), or on ${n}: epmd -daemon -address ${meshAddrs(host)} (without -address, epmd listens on every interface)`))
    } else if (e.nodes && !e.nodes.some((x) => x.name === alive(ctx, host))) {
      out.push(f('fail', n, 'node-registered', 'no node', `epmd on ${n} knows ${e.nodes.map((x) => x.name).join(', ') || 'no nodes'}, not "${alive(ctx, host)}"`, `start the release on ${n} with ${beamPaths(ctx.mesh.interface).envSh} sourced (RELEASE_NODE=${ctx.nodeName(host)}), or: erl -${ctx.mesh.beam.naming} ${ctx.nodeName(host)} -args_file ${beamPaths(ctx.mesh.interface).vmArgs} (binds distribution to ${host.ipv4 ?? host.ipv6})`))
    }
  }
  out.push(...exposureChecks(ctx, host, facts))
  return out
}

function exposureChecks(ctx: CheckContext, host: MeshHost, facts: DoctorHostFacts): Finding[] {
  const out: Finding[] = []
  const where = host.endpoint
  if (facts.exposure?.epmd === 'open') {
    out.push(f('critical', host.name, 'exposure-epmd', 'EPMD pub', `EPMD (4369/tcp) answers on the public address ${where}: anyone can list the nodes and try cookies`,
      `set beam.firewall: true in the inventory and run mesh apply, or restart epmd bound to the tunnel: stop it, then start the release with ${beamPaths(ctx.mesh.interface).envSh} sourced (ERL_EPMD_ADDRESS=${meshAddrs(host)})`))
  }
  const open = (facts.exposure?.dist ?? []).filter((d) => d.state === 'open').map((d) => d.port)
  if (open.length) {
    out.push(f('critical', host.name, 'exposure-dist', 'dist pub', `Erlang distribution port(s) ${open.join(', ')} answer on the public address ${where}`,
      `set beam.firewall: true and run mesh apply, or restart the node with -args_file ${beamPaths(ctx.mesh.interface).vmArgs} (inet_dist_use_interface ${host.ipv4 ?? host.ipv6}); ports ${ctx.mesh.beam.distPortMin}-${ctx.mesh.beam.distPortMax} belong on ${ctx.mesh.interface} only`))
  }
  return out
}

export function pairChecks(ctx: CheckContext, from: MeshHost, to: MeshHost, facts: DoctorHostFacts, target: DoctorHostFacts): Finding[] {
  const out: Finding[] = []
  const a = from.name
  const b = to.name
  const link: LinkFacts = facts.links?.[b] ?? {}
  const peer = facts.wg?.peers.find((p) => p.publicKey === to.publicKey)
  if (facts.wg) {
    if (!peer) {
      out.push(f('fail', a, 'wg-peer', 'no peer', `${a}'s ${ctx.mesh.interface} has no peer with ${b}'s key`, applyHint(a), b))
    } else {
      const want = [to.ipv4 && `${to.ipv4}/32`, to.ipv6 && `${to.ipv6}/128`].filter(Boolean) as string[]
      const missing = want.filter((w) => !peer.allowedIps.includes(w))
      if (missing.length) out.push(f('fail', a, 'wg-peer', 'allowed', `peer ${b} lacks AllowedIPs ${missing.join(', ')} on ${a}`, applyHint(a), b))
      const age = handshakeAge(peer, facts.wgReadAtEpochS ?? ctx.nowEpochS)
      const udp = `check that ${to.endpoint} UDP ${to.listenPort} is reachable from ${a} (cloud firewall/security group) and that both sides have each other's current keys (mesh apply)`
      if (age === null) out.push(f('fail', a, 'handshake', 'hs never', `no handshake ever with ${b} (endpoint ${peer.endpoint ?? 'unknown'})`, udp, b))
      else if (age > REJECT_AFTER_TIME_S) out.push(f('warn', a, 'handshake', `hs ${fmtAge(age)}`, `last handshake with ${b} ${age} s ago (> ${REJECT_AFTER_TIME_S} s REJECT_AFTER_TIME: no live session)`, udp, b))
    }
  }
  out.push(...resolveChecks(ctx, from, to, facts))
  if (link.ping && link.ping.sent > 0) {
    const loss = Math.round((100 * (link.ping.sent - link.ping.received)) / link.ping.sent)
    const late = link.ping.late
    const sessionBefore = sessionBeforePings(peer, facts.pingsStartedAtHostEpochS)
    if (loss === 100 && late?.received && sessionBefore !== null) {
      // The session was there and no new handshake came during the pings: the replies were slow (over 1 s) or lost
      // on a live tunnel. Saying "no session" would send the operator to WireGuard when the host or link is at fault.
      out.push(f('warn', a, 'ping', 'ping slow', `no reply from ${b} (${to.ipv4 ?? to.ipv6}) to the first ${link.ping.sent} pings within 1 s; one came within 16 s, and a session was up (handshake ${sessionBefore} s before the pings): the replies were slow or lost on a live tunnel (a busy host or link), not held up by a missing session`,
        `run mesh doctor again; if this pair is slow every time, check the load on ${a} and ${b} and the link between them`, b))
    } else if (loss === 100 && late?.received) {
      out.push(f('warn', a, 'ping', 'ping late', `no reply from ${b} (${to.ipv4 ?? to.ipv6}) to the first ${link.ping.sent} pings; one came within 16 s: the tunnel had no working session yet (just brought up, or both ends' handshakes crossed; WireGuard mends that by itself within 5-15 s)`,
        `run mesh doctor again: it should pass; if this pair is late every time, check the link between ${a} and ${b}`, b))
    } else if (loss === 100) {
      out.push(f('fail', a, 'ping', 'no ping', `no ping reply from ${b} (${to.ipv4 ?? to.ipv6}) over the tunnel${late ? ', none within 16 s more either' : ''}`, `check the handshake with ${b} (wg show ${ctx.mesh.interface}) and any firewall on ${ctx.mesh.interface}`, b))
    } else if (loss > 0) {
      out.push(f('warn', a, 'ping', `loss ${loss}%`, `${loss}% ping loss to ${b} over the tunnel`, `check the path MTU (network.mtu) and the link between ${a} and ${b}`, b))
    }
  }
  out.push(...beamChecks(ctx, from, to, link, target))
  return out
}

function resolveChecks(ctx: CheckContext, from: MeshHost, to: MeshHost, facts: DoctorHostFacts): Finding[] {
  if (facts.answers) return resolutionPairChecks(ctx, from, to, facts)
  // Facts without full answer lists (first answer only): compare that one.
  const out: Finding[] = []
  const expect: [string, string | null][] = [[to.name, to.ipv4 ?? to.ipv6 ?? null], [wgAlias(to.name), to.endpointIp]]
  for (const [name, want] of expect) {
    if (!want || !facts.resolve || !(name in facts.resolve)) continue
    const got = facts.resolve[name]
    if (got?.address !== want) {
      out.push(f('fail', from.name, 'resolve', 'dns', `on ${from.name}, ${name} resolves to ${got?.address ?? 'nothing'}, expected ${want}`,
        `${applyHint(from.name)} (rewrites the /etc/hosts block); if it persists, look for an earlier ${name} line in /etc/hosts on ${from.name}`, to.name))
    }
  }
  return out
}

function beamChecks(ctx: CheckContext, from: MeshHost, to: MeshHost, link: LinkFacts, target: DoctorHostFacts): Finding[] {
  const out: Finding[] = []
  const a = from.name
  const b = to.name
  const iface = ctx.mesh.interface
  // When epmd is down on B itself, B has the finding; repeating it per peer adds noise, not news.
  const epmdDownAtB = target.localEpmd !== undefined && target.localEpmd.state !== 'open'
  if (ctx.mesh.beam.epmd && link.epmd && link.epmd.state !== 'open' && !epmdDownAtB) {
    out.push(f('fail', a, 'epmd-reach', '4369 blk', `${a} cannot reach epmd on ${b} (${to.ipv4 ?? to.ipv6}:4369 ${link.epmd.state}) though it runs there`,
      `open 4369/tcp on ${iface} on ${b}, or set beam.firewall: true and run mesh apply (its rules allow the mesh)`, b))
  }
  const d = link.dist
  if (!d) return out
  if (d.state === 'closed' && !ctx.mesh.beam.epmd) {
    // EPMD-less: no epmd tells us the node is down, so a refused dial of the fixed port is the only sign of it.
    out.push(f('fail', a, 'dist-reach', 'no node', `${a} cannot reach ${ctx.nodeName(to)}: nothing accepts connections on ${to.ipv4 ?? to.ipv6}:${d.port} (refused)`,
      `the node on ${b} is not running, or does not listen on ${d.port}: start the release on ${b} with -args_file ${beamPaths(iface).vmArgs} (-start_epmd false -erl_epmd_port ${d.port}); if it runs, look for a firewall on ${iface} on ${b} that rejects ${d.port}/tcp`, b))
  } else if (d.state !== 'open') {
    out.push(f('fail', a, 'dist-reach', 'dist blk', `${a} cannot reach ${ctx.nodeName(to)} on port ${d.port} (${d.state})`,
      `open ${ctx.mesh.beam.distPortMin}-${ctx.mesh.beam.distPortMax}/tcp on ${iface} on ${b} and pin the node to that range (inet_dist_listen_min/max)`, b))
  } else if (d.nameMatches === false) {
    out.push(f('fail', a, 'dist-name', 'name!', `dialled ${ctx.nodeName(to)} but the node calls itself ${d.announcedName}: Erlang refuses the connection`,
      ctx.mesh.beam.naming === 'name'
        ? `start the node on ${b} as -name ${ctx.nodeName(to)} (RELEASE_NODE in ${beamPaths(iface).envSh}) and restart the release`
        : `make the node's host part equal the inventory name: hostnamectl set-hostname ${b} on ${b} and restart the release`, b))
  }
  return out
}

/** 200 s -> "3m", 7200 -> "2h", 3 days -> "3d": cells stay narrow. */
export function fmtAge(s: number): string {
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.floor(s / 60)}m`
  if (s < 172800) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

/**
 * How many seconds before the pings went out the peer's latest handshake was, when that handshake still made a
 * live session then (younger than REJECT_AFTER_TIME); null when there was none, or it is not known. Both times are
 * the host's own clock, whole seconds: a handshake in the same second as the pings does not count as before.
 */
function sessionBeforePings(peer: WgPeerFact | undefined, pingsStartedAt: number | undefined): number | null {
  const before = peer && pingsStartedAt !== undefined ? handshakeAge(peer, pingsStartedAt) : null
  return before !== null && before > 0 && before < REJECT_AFTER_TIME_S ? before : null
}
