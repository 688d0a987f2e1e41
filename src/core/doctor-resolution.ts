// Doctor checks of name resolution as the BEAM sees it: every answer of getaddrinfo (getent ahostsv4/v6)
// and of Erlang's inet:getaddr/getaddrs for each mesh name must be that name's mesh address. A wrong
// answer names the /etc/hosts line behind it. Pure.
import type {CheckContext, CheckId, Finding} from './doctor-report.js'
import type {DoctorHostFacts} from './doctor-facts.js'
import {beamPaths} from './beam-paths.js'
import {ShadowLine, meshNames, neutralMark} from './hosts-shadow.js'
import type {MeshHost} from './model.js'
import {wgAlias} from './model.js'
import type {NameAnswers} from './resolution-facts.js'

const applyHint = (host: string) => `mesh apply --hosts ${host}`

/** What went wrong for one name: each wrong address with the resolvers that gave it, and resolvers that gave none. */
interface NameProblem {
  name: string
  expected: string[]
  wrong: Map<string, string[]>
  missing: string[]
}

function problemOf(name: string, expected: Set<string>, answers: NameAnswers[]): NameProblem | null {
  const wrong = new Map<string, string[]>()
  const missing: string[] = []
  for (const a of answers.filter((x) => x.name.toLowerCase() === name.toLowerCase())) {
    for (const addr of a.addresses.filter((x) => !expected.has(x))) wrong.set(addr, [...(wrong.get(addr) ?? []), a.resolver])
    const wantsFamily = [...expected].some((x) => x.includes(':') === (a.family === 'inet6'))
    if (!a.addresses.length && wantsFamily) missing.push(`${a.resolver}${a.error ? ` (${a.error})` : ''}`)
  }
  return wrong.size || missing.length ? {name, expected: [...expected], wrong, missing} : null
}

const quote = (l: ShadowLine) => `line ${l.line} of /etc/hosts: ${JSON.stringify(l.text)}`
const culprits = (facts: DoctorHostFacts, name: string) => (facts.shadows ?? []).filter((l) => l.names.some((n) => n.toLowerCase() === name.toLowerCase()))

/** One finding per name with wrong answers: the addresses, who gave them, the line behind them, and the fix. */
function nameFinding(ctx: CheckContext, host: string, p: NameProblem, facts: DoctorHostFacts, check: CheckId, why: string, peer?: string): Finding {
  const lines = culprits(facts, p.name)
  const got = [...p.wrong].map(([addr, by]) => `${addr} (${by.join(', ')})`)
  const what = [got.length ? `resolves to ${got.join('; ')}` : '', p.missing.length ? `does not resolve with ${p.missing.join(', ')}` : ''].filter(Boolean).join(' and ')
  const source = lines.length ? `; from ${lines.map(quote).join(', ')}` : ''
  const hint = lines.length
    ? `${applyHint(host)}: it neutralizes ${lines.length > 1 ? 'those lines' : 'that line'} (the original stays after a "${neutralMark(ctx.mesh.interface).trim()}" marker and comes back on teardown), or delete ${p.name} from ${lines.length > 1 ? 'those lines' : 'the line'} by hand`
    : `no /etc/hosts line outside the beam-mesh block maps ${p.name}: ${applyHint(host)} to restore the block, and check that /etc/nsswitch.conf lists files before dns and myhostname`
  return {
    severity: 'fail', host, ...(peer ? {peer} : {}), check, label: check === 'self-resolve' ? 'self dns' : 'dns',
    message: `on ${host}, ${p.name} ${what}, not its mesh address ${p.expected.join(' / ')}${why}${source}`,
    hint,
  }
}

/** Host-level: the block is in place, the host's own name is its mesh address, and no shadowing line is left. */
export function resolutionHostChecks(ctx: CheckContext, host: MeshHost, facts: DoctorHostFacts): Finding[] {
  const out: Finding[] = []
  const n = host.name
  const iface = ctx.mesh.interface
  if (facts.hostsBlock && facts.hostsBlock !== 'ok') {
    const what = {missing: `has no beam-mesh ${iface} block`, altered: `has a beam-mesh ${iface} block that differs from the mesh (edited or rewritten)`, broken: `has unmatched beam-mesh ${iface} markers`}[facts.hostsBlock]
    out.push({severity: 'fail', host: n, check: 'hosts-block', label: 'block',
      message: `/etc/hosts on ${n} ${what}: mesh names do not resolve to the tunnel`,
      hint: `${applyHint(n)} (rewrites the block). If it keeps coming back, something rewrites /etc/hosts: cloud-init with manage_etc_hosts: true regenerates it at boot (set manage_etc_hosts: false in /etc/cloud/cloud.cfg.d/), and container runtimes rewrite it when the container restarts (Docker, Podman, Kubernetes: bind-mount your own file or use their host-alias options); turn that off, or re-run apply after it`})
  }
  const names = meshNames(ctx.mesh)
  const cited = new Set<ShadowLine>()
  const own = problemOf(n, names.get(n.toLowerCase()) ?? new Set(), facts.answers ?? [])
  if (own) {
    culprits(facts, n).forEach((l) => cited.add(l))
    out.push(nameFinding(ctx, n, own, facts, 'self-resolve', `: the node cannot reach itself by name (bin/<release> stop, rpc, remote and pid dial ${ctx.nodeName(host)})`))
  }
  // Peers' names are cited by the pair checks; what is left is a line no resolver answered with yet
  // (e.g. after the block, hidden while `multi` is off) that the next resolver configuration would honour.
  const peersWrong = ctx.mesh.hosts.filter((p) => p.name !== n).flatMap((p) => [p.name, wgAlias(p.name)])
    .filter((name) => problemOf(name, names.get(name.toLowerCase()) ?? new Set(), facts.answers ?? []))
  for (const name of peersWrong) culprits(facts, name).forEach((l) => cited.add(l))
  for (const l of (facts.shadows ?? []).filter((x) => !cited.has(x))) {
    out.push({severity: 'fail', host: n, check: 'hosts-shadow', label: 'hosts',
      message: `${quote(l)} on ${n} maps ${l.names.join(', ')} to ${l.address}, not the mesh address: resolvers that return every match (glibc with multi on, getaddrinfo, Erlang) hand it out`,
      hint: `${applyHint(n)} (neutralizes the line; teardown restores it), or delete ${l.names.join(', ')} from it by hand`})
  }
  if (facts.selfEpmd && facts.localEpmd?.state === 'open' && facts.selfEpmd.state !== 'open') {
    const at = host.ipv4 ?? host.ipv6
    out.push({severity: 'fail', host: n, check: 'self-reach', label: 'self epmd',
      message: `${n} cannot reach its own epmd at its mesh address ${at}:4369 (${facts.selfEpmd.state}): release commands that dial ${ctx.nodeName(host)} fail with nodedown`,
      hint: `restart epmd bound to the tunnel and loopback: stop the node and epmd, then start the release with ${beamPaths(iface).envSh} sourced (ERL_EPMD_ADDRESS=${[host.ipv4, host.ipv6].filter(Boolean).join(',')}); check that ${iface} is up first`})
  }
  return out
}

/** Pair-level: on `from`, every answer for `to`'s name and -wg alias is what the block says. */
export function resolutionPairChecks(ctx: CheckContext, from: MeshHost, to: MeshHost, facts: DoctorHostFacts): Finding[] {
  const names = meshNames(ctx.mesh)
  return [to.name, wgAlias(to.name)]
    .filter((name) => names.has(name.toLowerCase()))
    .map((name) => problemOf(name, names.get(name.toLowerCase())!, facts.answers ?? []))
    .filter((p): p is NameProblem => p !== null)
    .map((p) => nameFinding(ctx, from.name, p, facts, 'resolve', p.name === to.name ? `: ${ctx.nodeName(to)} would be dialled outside the tunnel` : ': WireGuard would send to the wrong endpoint', to.name))
}
