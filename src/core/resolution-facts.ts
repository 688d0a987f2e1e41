// What the resolvers on a host answer for the mesh names, as the BEAM sees it: every answer of
// `getent ahostsv4|ahostsv6` (getaddrinfo, sorted, never just the first line) and Erlang's own
// inet:getaddr/getaddrs. Parsers of their output, and the state of our block. Pure.
import {findBlock} from './hostsfile.js'
import {canonicalHostsAddress} from './hosts-shadow.js'

export type ResolverFamily = 'inet' | 'inet6'

/** One resolver's answers for one name and family. */
export interface NameAnswers {
  name: string
  /** How it was asked, for the report: "getent ahostsv4", "erl inet:getaddr(inet)". */
  resolver: string
  family: ResolverFamily
  /** Canonical addresses, unique, in the order given (empty: did not resolve). */
  addresses: string[]
  /** The resolver's error when it gave none (e.g. nxdomain). */
  error?: string
}

/** Present and as rendered / absent / different (edited or rewritten by something) / markers unusable. */
export type BlockState = 'ok' | 'missing' | 'altered' | 'broken'

const unique = (xs: string[]) => [...new Set(xs)]

/** `getent ahostsv4|ahostsv6 NAME` stdout: every line's address (STREAM/DGRAM/RAW repeat each one). */
export function parseAhosts(name: string, family: ResolverFamily, stdout: string): NameAnswers {
  const addresses = stdout
    .split('\n')
    .map((l) => canonicalHostsAddress(l.trim().split(/\s+/)[0] ?? ''))
    .filter((a): a is string => a !== null)
  return {name, resolver: `getent ahosts${family === 'inet' ? 'v4' : 'v6'}`, family, addresses: unique(addresses)}
}

/**
 * The erl probe's lines "NAME FAMILY GETADDR GETADDRS": GETADDR is one address or error:REASON, GETADDRS a
 * comma-separated list or error:REASON. Each line gives two NameAnswers. Lines of any other shape are ignored.
 */
export function parseErlAnswers(stdout: string): NameAnswers[] {
  const out: NameAnswers[] = []
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (inet6?) (\S+) (\S+)$/.exec(line.trim())
    if (!m) continue
    const [, name, family, one, all] = m
    const answer = (resolver: string, text: string): NameAnswers => {
      if (text.startsWith('error:')) return {name, resolver, family: family as ResolverFamily, addresses: [], error: text.slice(6)}
      const addresses = text.split(',').map(canonicalHostsAddress).filter((a): a is string => a !== null)
      return {name, resolver, family: family as ResolverFamily, addresses: unique(addresses)}
    }
    out.push(answer(`erl inet:getaddr(${family})`, one), answer(`erl inet:getaddrs(${family})`, all))
  }
  return out
}

/** Compares the block in the file with the one apply writes (a missing final newline at EOF is not a change). */
export function blockState(hostsFile: string, block: string, begin: string, end: string): BlockState {
  try {
    const span = findBlock(hostsFile, begin, end)
    if (!span) return 'missing'
    const have = hostsFile.slice(span.start, span.end)
    return have === block || `${have}\n` === block ? 'ok' : 'altered'
  } catch {
    return 'broken'
  }
}

/**
 * Erlang expressions printing "NAME FAMILY GETADDR GETADDRS" for every "NAME:FAMILY" of the environment variable
 * MESH_RESOLVE (space-separated): Erlang's own inet:getaddr/getaddrs, as a node dialling that name resolves it.
 * A sequence without a final period, so a longer probe can run it first; its variables are prefixed so they
 * cannot clash with the probe's own.
 */
export const ERL_RESOLVE_LINES = [
  'MeshF = fun(MeshR) -> case MeshR of {ok, MeshA} when is_tuple(MeshA) -> inet:ntoa(MeshA);',
  ' {ok, MeshAs} -> string:join([inet:ntoa(MeshX) || MeshX <- MeshAs], ",");',
  ' {error, MeshE} -> "error:" ++ lists:flatten(io_lib:format("~p", [MeshE])) end end,',
  ' [io:format("~s ~s ~s ~s~n", [MeshN, MeshFam, MeshF(inet:getaddr(MeshN, MeshFam)), MeshF(inet:getaddrs(MeshN, MeshFam))])',
  ' || [MeshN, MeshFamS] <- [string:split(MeshP, ":") || MeshP <- string:lexemes(os:getenv("MESH_RESOLVE", ""), " ")],',
  ' MeshFam <- [list_to_atom(MeshFamS)]]',
].join('')

/** The names alone (`MESH_RESOLVE=... erl -noshell -eval EXPR`): no distribution, no epmd. */
export const ERL_RESOLVE_EXPR = `${ERL_RESOLVE_LINES}, halt().`

/**
 * Emulator flags for the short-lived VMs doctor boots on every host at once: one scheduler of each kind, and
 * schedulers that sleep when idle instead of spinning (on a busy host, N spinning VMs slow each other down).
 */
export const SHORT_LIVED_VM_FLAGS = ['+S', '1:1', '+SDcpu', '1:1', '+SDio', '1', '+A', '1', '+sbwt', 'none', '+sbwtdcpu', 'none', '+sbwtdio', 'none']
