// Key rotation on disk: a new secret is first written beside the current one as "<file>.next" (0600) and
// only renamed over it once every host runs with it. A .next file present means a rotation is under way:
// `mesh apply` and `mesh rotate-keys` both pick it up and finish it, so an interrupted rotation never
// strands a host with a key that is neither on disk as current nor re-creatable.
import {existsSync, renameSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {generatePresharedKey, generatePrivateKey} from '../core/wgkeys.js'
import {StateStore} from './store.js'

export const pendingFile = (file: string) => `${file}.next`

export const pskFile = (store: StateStore, a: string, b: string) => {
  const [x, y] = [a, b].sort()
  return join(store.secretsDir, `${x}+${y}.psk`)
}

/** Current and pending value of one secret; pending is null when no rotation is under way. */
export function readRotating(store: StateStore, file: string): {current: string | null; pending: string | null} {
  return {current: store.readSecret(file), pending: store.readSecret(pendingFile(file))}
}

export interface RotationStart {
  /** Secrets created now. */
  created: string[]
  /** Secrets whose .next already existed (an interrupted rotation is resumed, not restarted). */
  resumed: string[]
}

/** Writes <host>.key.next for each host that has none yet; an existing .next is kept (resume). */
export function startKeyRotation(store: StateStore, hosts: string[]): RotationStart {
  return start(store, hosts.map((h) => [h, store.keyFile(h)] as const), generatePrivateKey)
}

/** Writes <a>+<b>.psk.next for each pair (names as in the inventory). */
export function startPskRotation(store: StateStore, pairs: [string, string][]): RotationStart {
  return start(store, pairs.map(([a, b]) => [`${a}+${b}`, pskFile(store, a, b)] as const), generatePresharedKey)
}

function start(store: StateStore, items: readonly (readonly [string, string])[], make: () => string): RotationStart {
  const out: RotationStart = {created: [], resumed: []}
  for (const [label, file] of items) {
    if (store.readSecret(file) === null) continue // nothing to rotate yet: the first apply creates it
    const got = store.secret(pendingFile(file), make)
    ;(got.created ? out.created : out.resumed).push(label)
  }
  store.syncDirs()
  return out
}

/** Renames every pending secret over its current file (rename is atomic), then records the new public keys. */
export function commitRotation(store: StateStore, hosts: string[], pskFiles: string[]): void {
  for (const file of [...hosts.map((h) => store.keyFile(h)), ...pskFiles]) {
    if (existsSync(pendingFile(file))) {
      renameSync(pendingFile(file), file)
      store.touched(dirname(file))
    }
  }
  const state = store.load()
  for (const h of hosts) {
    const entry = state.hosts[h]
    if (entry?.pendingPublicKey) {
      entry.publicKey = entry.pendingPublicKey
      delete entry.pendingPublicKey
    }
  }
  store.save(state)
}
