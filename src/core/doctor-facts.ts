// The contract between the doctor service (which probes) and the doctor verdicts (pure).
// Every field is optional in the sense "not probed": undefined means we do not know, and the
// doctor then says nothing about it rather than guessing. Nothing here may hold a secret: the
// facts can end up in --json (the wg dump is already stripped of the private key).
import type {EpmdNode} from './epmd.js'
import type {GetentAnswer, HostnameFact} from './parse.js'
import type {ShadowLine} from './hosts-shadow.js'
import type {BlockState, NameAnswers} from './resolution-facts.js'
import type {WgDump} from './wgdump.js'

/** open = TCP accepted; closed = refused (nothing listens); filtered = no answer (dropped). */
export type PortState = 'open' | 'closed' | 'filtered'

/** An EPMD query (NAMES) to some address, from some host. */
export interface EpmdProbeFact {
  state: PortState
  /** The NAMES reply when state is open and it parsed; a parse failure shows as open without nodes. */
  nodes?: EpmdNode[]
  /** One line, for the report, when something went wrong (e.g. "ECONNREFUSED", "garbage reply"). */
  detail?: string
}

/** The distribution port of the peer's node, dialled by the name the cluster uses (e.g. app@Host-B). */
export interface DistProbeFact {
  port: number
  state: PortState
  /** From the cookie-free handshake probe: the node's own name, and whether it equals the dialled one. */
  announcedName?: string
  nameMatches?: boolean | null
  detail?: string
}

export interface PingCounts {
  sent: number
  received: number
}

/** A ping's counts, and those of the later ping a peer gets when it answered none of the first. */
export interface PingFact extends PingCounts {
  /** One more ping that waits 16 s, as long as WireGuard takes to mend a session. */
  late?: PingCounts
}

/** What host A observed about peer B over the tunnel. */
export interface LinkFacts {
  /** ping to B's tunnel address. */
  ping?: PingFact
  /** NAMES to B's tunnel address, port 4369. */
  epmd?: EpmdProbeFact
  /** B's node dist port (learned from B's epmd), dialled over the tunnel. */
  dist?: DistProbeFact
}

/** The public side of a host, probed from outside the tunnel (a peer dialling the endpoint IP). */
export interface ExposureFacts {
  epmd?: PortState
  dist?: {port: number; state: PortState}[]
}

export interface DoctorHostFacts {
  /** Inventory name. */
  host: string
  /** SSH session worked. When false every other field is ignored. */
  connected: boolean
  /** Why SSH failed (ConnectionError message): no secrets. */
  connectError?: string
  /** `hostname` output, parsed. */
  hostname?: HostnameFact
  /** `wg show <if> dump`: null = the interface does not exist / is down. */
  wg?: WgDump | null
  /**
   * The controller's clock (epoch seconds) when this host's dump came back: its handshake ages are measured at
   * that moment, not when the whole run ends (a fleet's run takes minutes; a fresh handshake must not read stale).
   */
  wgReadAtEpochS?: number
  /**
   * The host's own clock (epoch seconds) just before its pings went out: a peer's latestHandshake (also the host's
   * clock) before it means a session was up when the pings were sent.
   */
  pingsStartedAtHostEpochS?: number
  /** getent answers on this host, keyed by the name asked (`Host-B`, `Host-B-wg`); null = does not resolve. */
  resolve?: Record<string, GetentAnswer | null>
  /** Every answer for every mesh name: getent ahostsv4/ahostsv6, and Erlang's inet:getaddr/getaddrs where erl is installed. */
  answers?: NameAnswers[]
  /** /etc/hosts lines outside our block that map a mesh name elsewhere (findShadows, other meshes' blocks included). */
  shadows?: ShadowLine[]
  /** Our block in /etc/hosts, compared with the rendered one. */
  hostsBlock?: BlockState
  /** NAMES to the host's own mesh address from the host: what a release command that dials the node by name reaches. */
  selfEpmd?: EpmdProbeFact
  /** NAMES to 127.0.0.1:4369 on the host itself. */
  localEpmd?: EpmdProbeFact
  /** Per peer (inventory name) -> what this host saw of it. */
  links?: Record<string, LinkFacts>
  exposure?: ExposureFacts
}

export interface DoctorMeshFacts {
  /** The controller's clock, epoch seconds: handshake ages are computed against it. */
  nowEpochS: number
  hosts: DoctorHostFacts[]
}

/**
 * Maps a transport-level probe outcome (epmd-client / dist-probe ProbeResult) to a PortState.
 * Structural so core does not import remote: ok, or a reason + errno code.
 */
export function portStateOf(r: {ok: boolean; reason?: string; code?: string}): PortState {
  if (r.ok) return 'open'
  if (r.reason === 'io') return r.code === 'ECONNREFUSED' ? 'closed' : 'filtered'
  if (r.reason === 'timeout') return 'filtered'
  // Bytes came back (parse / too-large): something listens, it just did not speak properly.
  return 'open'
}
