// `mesh rotate-keys`: write the new secrets as pending (<file>.next, 0600) so that the apply that follows
// renders them, orders the rollout and commits them once every host runs them (src/services/lifecycle.ts).
import {rmSync} from 'node:fs'

import {UserError} from '../core/errors.js'
import {RotationStart, pendingFile, pskFile, startKeyRotation, startPskRotation} from '../state/rotation.js'
import {Inventory} from '../core/inventory.js'
import {acquireLock} from '../state/lock.js'
import {StateStore, defaultStateDir} from '../state/store.js'
import {readInventory} from './mesh.js'

export interface RotateOptions {
  inventoryFile: string
  stateDir?: string
  /** Default: every host in the inventory. */
  hosts?: string[]
  /** Rotate the per-pair preshared keys (of pairs with a named host) instead of the hosts' key pairs. */
  psk: boolean
}

export interface RotationStarted extends RotationStart {
  kind: 'keys' | 'psks'
  /** Undo for a dry run or a refused confirmation: removes only the .next files made just now. */
  discard(): void
  /**
   * The apply lock, taken before any pending file is written so that no other apply can roll out half a
   * rotation; the apply that follows nests inside it. Release when done.
   */
  release(): void
}

export function startRotation(opts: RotateOptions): RotationStarted {
  const inv = readInventory(opts.inventoryFile)
  const store = new StateStore(opts.stateDir ?? defaultStateDir(opts.inventoryFile))
  store.checkModes()
  if (!store.exists()) throw new UserError('nothing to rotate: the mesh has no state yet', 'run `mesh apply` first')
  const lock = acquireLock(store.dir, 'rotate-keys')
  try {
    return {...pendingSecrets(inv, store, opts), release: () => lock.release()}
  } catch (e) {
    lock.release()
    throw e
  }
}

function pendingSecrets(inv: Inventory, store: StateStore, opts: RotateOptions): Omit<RotationStarted, 'release'> {
  const all = inv.hosts.map((h) => h.name)
  const byLower = new Map(all.map((n) => [n.toLowerCase(), n]))
  const unknown = (opts.hosts ?? []).filter((h) => !byLower.has(h.toLowerCase()))
  if (unknown.length) throw new UserError(`${unknown.join(', ')} not in the inventory`, `use names from the inventory: ${all.join(', ')}`)
  const named = opts.hosts?.length ? opts.hosts.map((h) => byLower.get(h.toLowerCase())!) : all

  if (opts.psk) {
    if (!inv.network.presharedKeys) throw new UserError('network.presharedKeys is off in the inventory', 'set network.presharedKeys: true and apply, then rotate')
    const pairs: [string, string][] = []
    for (let i = 0; i < all.length; i++)
      for (let j = i + 1; j < all.length; j++) if (named.includes(all[i]) || named.includes(all[j])) pairs.push([all[i], all[j]])
    const started = startPskRotation(store, pairs)
    const files = new Map(pairs.map(([a, b]) => [`${a}+${b}`, pskFile(store, a, b)]))
    return {...started, kind: 'psks', discard: () => started.created.forEach((l) => rmSync(pendingFile(files.get(l)!), {force: true}))}
  }
  if (inv.network.keys === 'host') return requestHostRotation(store, named)
  const started = startKeyRotation(store, named)
  return {...started, kind: 'keys', discard: () => started.created.forEach((h) => rmSync(pendingFile(store.keyFile(h)), {force: true}))}
}

/**
 * network.keys: host: the new keys are made by the hosts, in the facts round trip of the apply that follows
 * (<if>.key.next beside the current key). Here the request is only recorded in state.json, so an interrupted
 * apply still finishes it; a dry run or refused confirmation takes back the requests made now.
 */
function requestHostRotation(store: StateStore, named: string[]): Omit<RotationStarted, 'release'> {
  const state = store.load()
  const created: string[] = []
  const resumed: string[] = []
  for (const h of named) {
    const entry = state.hosts[h]
    if (!entry?.publicKey) continue // no key collected yet: the first apply makes one
    ;(entry.rotateOnHost || entry.pendingPublicKey ? resumed : created).push(h)
    entry.rotateOnHost = true
  }
  store.save(state)
  const discard = () => {
    const now = store.load()
    for (const h of created) delete now.hosts[h]?.rotateOnHost
    store.save(now)
  }
  return {created, resumed, kind: 'keys', discard}
}
