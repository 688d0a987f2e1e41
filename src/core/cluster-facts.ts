// What a short-lived hidden node on a host learned from the running node there (src/services/doctor-cluster.ts),
// and the pure parser of the probe's output. The probe prints only node names, atoms and paths, one
// `@@key value` line each: never the cookie, never a whole Erlang term (a term could hold it).

/**
 * ok = the node answered and said whom it is connected to;
 * no-erl = no erl on the host to start the probe with; no-cookie = the mesh cookie file is missing;
 * no-node = nothing registered under the node's name; cookie = the node rejected the mesh cookie;
 * name = the node answers to another name; failed = anything else (see reason/detail).
 */
export type ClusterProbeStatus = 'ok' | 'no-erl' | 'no-cookie' | 'no-node' | 'cookie' | 'name' | 'failed'

export interface ClusterProbeFact {
  /** Inventory name. */
  host: string
  status: ClusterProbeStatus
  /** The erl the probe ran (or, with no-erl, where it looked). */
  erl?: string
  /** The node dialled, e.g. app@Host-B. */
  node?: string
  /** erlang:nodes() of the node (visible nodes only: the probe itself is hidden). */
  nodes?: string[]
  /** With status name: the name the node announced in the handshake. */
  announcedName?: string
  /** The handshake's failure tag (an atom such as recv_challenge_ack_failed), when connecting failed. */
  reason?: string
  /** Names registered in the host's EPMD, when connecting failed and EPMD is used. */
  registered?: string[]
  /** One line for the report (no secret: built from the fields above or from a path). */
  detail?: string
}

/** The hand-shake tags that mean "the other side does not share our cookie" (dist_util, OTP 23-27). */
const COOKIE_TAGS = new Set(['recv_challenge_ack_failed', 'recv_challenge_reply_failed'])
const NODE_NAME = /^[A-Za-z0-9_.@:-]{1,255}$/
const ATOM = /^[a-z][A-Za-z0-9_]{0,63}$/

function lines(out: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const line of out.split('\n')) {
    const m = /^@@([a-z]+)(?: (.*))?$/.exec(line.trimEnd())
    if (m && !map.has(m[1])) map.set(m[1], m[2] ?? '')
  }
  return map
}

const words = (s: string | undefined, re: RegExp) => (s ?? '').split(' ').filter((w) => re.test(w))

/**
 * The probe's stdout (+ exit code and stderr for the failure detail) -> a fact. `node` is the name dialled;
 * `alive` its part before @, to tell "not registered" from "registered but refused".
 */
export function parseClusterProbe(host: string, node: string, out: {code: number | null; stdout: string; stderr: string}): ClusterProbeFact {
  const l = lines(out.stdout)
  const erl = l.get('erl')
  if (l.has('noerl')) return {host, node, status: 'no-erl', erl: l.get('noerl') || undefined}
  if (l.has('nocookie')) return {host, node, status: 'no-cookie', erl, detail: `cannot read ${l.get('nocookie')}`}
  const base = {host, node, ...(erl ? {erl} : {})}
  const connect = l.get('connect')
  if (connect === 'true' && l.has('nodes')) return {...base, status: 'ok', nodes: words(l.get('nodes'), NODE_NAME)}
  if (connect === 'true') return {...base, status: 'failed', detail: `connected, but erlang:nodes() failed (${l.get('rpcfail') || 'no answer'})`}
  if (connect !== 'false') {
    // The probe died before it could say anything: keep the last stderr line, it names the reason (e.g. a bad flag).
    const last = out.stderr.trim().split('\n').pop()?.slice(0, 200)
    return {...base, status: 'failed', detail: l.has('timeout') ? 'the probe timed out' : `the probe exited ${out.code ?? 'on a signal'}${last ? `: ${last}` : ''}`}
  }
  const reason = words(l.get('reason'), ATOM)[0]
  const registered = l.has('names') ? words(l.get('names'), /^[A-Za-z0-9_-]{1,255}$/) : undefined
  const announced = words(l.get('announced'), NODE_NAME)[0]
  const more = {...(reason ? {reason} : {}), ...(registered ? {registered} : {})}
  const alive = node.split('@')[0]
  if (announced && announced !== node) return {...base, ...more, status: 'name', announcedName: announced}
  if (reason && COOKIE_TAGS.has(reason)) return {...base, ...more, status: 'cookie'}
  if (registered && !registered.includes(alive)) return {...base, ...more, status: 'no-node'}
  return {...base, ...more, status: 'failed', detail: `net_kernel:connect_node refused${reason ? ` (${reason})` : ''}`}
}
