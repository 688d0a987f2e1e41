// network.keys: host — each host makes and keeps its own WireGuard private key. Pure: what the CLI renders in
// place of the key, how the facts report the host's public keys, and which key each host runs in this apply.
// The operator's machine only ever sees public keys; the host puts its private key into the config itself
// (src/remote/host-key-script.ts).
import {isWgKey} from './wgkeys.js'

/** What the CLI renders as `PrivateKey =`; the host swaps in the content of its key file while writing. */
export const HOST_KEY = '{host-key}'
/** The same for the pending key of a rotation (<if>.key.next). */
export const HOST_KEY_NEXT = '{host-key-next}'
/** What the facts show for a PrivateKey line that matches neither key file (written by hand, or local mode). */
export const NOT_HOST_KEY = '{not-the-host-key}'

export type HostKeyRef = typeof HOST_KEY | typeof HOST_KEY_NEXT

export const hostKeyFile = (iface: string) => `/etc/wireguard/${iface}.key`

/** Public keys of the host's key files, as the facts round trip reports them. */
export interface HostKeyFacts {
  current: string | null
  next: string | null
  /** The host made its current key in this round trip (it had none). */
  made: boolean
  /** A key file that holds no valid key (the host's `wg pubkey` refused it). */
  invalid?: string
}

const MARK = '@@beam-mesh hostkey'

/** Splits the host key lines off the facts output (they come first); the rest goes to the facts parser. */
export function splitHostKeyFacts(out: string): {keys: HostKeyFacts; rest: string} {
  const keys: HostKeyFacts = {current: null, next: null, made: false}
  const rest: string[] = []
  for (const line of out.split('\n')) {
    if (!line.startsWith(MARK)) {
      rest.push(line)
      continue
    }
    const [kind, value = ''] = line.slice(MARK.length).trim().split(/\s+/)
    if (kind === 'made') keys.made = true
    else if (kind === 'current' || kind === 'next') {
      if (isWgKey(value)) keys[kind] = value
      else keys.invalid = kind === 'current' ? 'the key file' : 'the pending key file'
    }
  }
  return {keys, rest: rest.join('\n')}
}

export interface HostKeyInput {
  name: string
  iface: string
  /** state.json: committed and pending public key. */
  recorded?: string
  recordedPending?: string
  /** Undefined: the host was not reached in this run (or not targeted). */
  facts?: HostKeyFacts
  /** keys/<name>.key is still in the state dir (a mesh moving from local keys). */
  localKey: boolean
  rotateRequested: boolean
}

export interface HostKeyDecision {
  name: string
  /** The key peers get and the host runs; undefined = not known yet (pending), left out of peers' configs. */
  publicKey?: string
  /** For state.json. */
  committed?: string
  pending?: string
  privateKey: HostKeyRef
  /** The key changes in this run: peers switch first, then the host, and the change is committed at the end. */
  rotating: boolean
  /** The pending key is in <if>.key.next on the host: the commit renames it over <if>.key. */
  onNext: boolean
  note?: string
}

/** Which key each host runs in this apply, and what the plan says about it. */
export function decideHostKey(i: HostKeyInput): HostKeyDecision {
  const base = {name: i.name, privateKey: HOST_KEY as HostKeyRef, rotating: false, onNext: false}
  const file = hostKeyFile(i.iface)
  const pendingNote = `${i.name}: public key pending: \`mesh apply\` makes the key on the host (${file}) and collects its public key`
  if (!i.facts) {
    const publicKey = i.recordedPending ?? i.recorded
    return {...base, publicKey, committed: i.recorded, pending: i.recordedPending, note: publicKey ? undefined : pendingNote}
  }
  if (i.facts.invalid) {
    return {...base, publicKey: i.recorded, committed: i.recorded, note: `${i.name}: ${i.facts.invalid} on the host (${file}) holds no valid WireGuard key: remove it there and apply again (a new key is made)`}
  }
  const onHost = i.facts.next ?? i.facts.current
  if (!onHost) {
    // A preview: nothing was made on the host.
    if (!i.recorded) return {...base, note: pendingNote}
    const why = i.localKey
      ? `${i.name}: moves to a key made on the host: apply makes it there, peers switch to it first, then the host; keys/${i.name}.key is then deleted from the state dir`
      : `${i.name}: has no key on the host (${file}; re-imaged?): apply makes a new one there and gives peers its public key`
    return {...base, publicKey: i.recorded, committed: i.recorded, pending: i.recordedPending, note: why}
  }
  const privateKey: HostKeyRef = i.facts.next ? HOST_KEY_NEXT : HOST_KEY
  const onNext = Boolean(i.facts.next)
  if (!i.recorded) {
    const note = i.facts.made ? `${i.name}: key made on the host, public key collected` : undefined
    return {...base, privateKey, onNext, publicKey: onHost, committed: i.facts.current ?? onHost, pending: i.facts.next ?? undefined, note}
  }
  if (onHost === i.recorded) {
    const note = i.rotateRequested && !i.facts.next ? `${i.name}: key rotation requested: apply makes the new key on the host` : undefined
    return {...base, privateKey, onNext, publicKey: onHost, committed: i.recorded, note}
  }
  return {...base, privateKey, onNext, rotating: true, publicKey: onHost, committed: i.recorded, pending: onHost, note: changeNote(i, onHost)}
}

function changeNote(i: HostKeyInput, onHost: string): string {
  const order = 'peers switch to it first, then the host'
  if (i.facts?.next || i.rotateRequested || i.recordedPending === onHost) return `${i.name}: new key made on the host (rotation): ${order}`
  if (i.localKey) return `${i.name}: moves to a key made on the host: ${order}; keys/${i.name}.key is then deleted from the state dir`
  if (i.facts?.made) return `${i.name} had no key on the host (re-imaged?): a new one was made there; ${order}`
  return `${i.name}'s key on the host differs from the recorded one (key file replaced or restored from an old image?): ${order}`
}

/** The fact-round-trip flags for one host: make a missing key (never in a preview), make a rotation's pending key. */
export function hostKeyRequest(i: Pick<HostKeyInput, 'rotateRequested'>, preview: boolean): {make: boolean; next: boolean} {
  return {make: !preview, next: !preview && i.rotateRequested}
}
