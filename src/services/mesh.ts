// Shared by init, apply and doctor: inventory + local state -> mesh model, private keys and notes.
// Validates everything before it writes anything; creates keys only for hosts that have none.
import {resolve} from 'node:path'

import {AddressRequest, allocate, checkAllocation} from '../core/addressing.js'
import {InventoryError, UserError} from '../core/errors.js'
import {Inventory, parseInventory} from '../core/inventory.js'
import {HostAssignment, Mesh, buildMesh, sshTargetOf} from '../core/model.js'
import {keyCheckOf, publicKeyOf, WgKeyPair} from '../core/wgkeys.js'
import {readRegularFile} from '../state/files.js'
import {ArchivedHost, HostState, MeshState, StateStore, defaultStateDir} from '../state/store.js'
import {loadSecrets} from './secrets.js'
import {checkKeysMode, recordedHostKey} from './host-keys.js'

export {cookieFile} from './secrets.js'

/** Inventories are small; a huge file is a mistake (or hostile), so refuse it before parsing. */
export const MAX_INVENTORY_BYTES = 4 * 1024 * 1024

export interface LoadedMesh {
  inventoryFile: string
  inventory: Inventory
  store: StateStore
  mesh: Mesh
  /**
   * host name -> private key (base64). Never log these. With network.keys: host there are none: the map holds the
   * placeholder each host replaces with its own key (src/core/host-keys.ts).
   */
  privateKeys: Map<string, string>
  /** network.keys: host: private keys are made and kept by the hosts. */
  hostKeys: boolean
  /** Host mode: hosts whose public key is not known yet (collected by the next apply). */
  pendingHostKeys: string[]
  /** host -> peer -> preshared key, when network.presharedKeys is on. Never log these either. */
  presharedKeys?: Map<string, Map<string, string>>
  /** The Erlang distribution cookie shared by every node (secrets/cookie). Never log or print it. */
  cookie: string
  createdCookie: boolean
  notes: string[]
  createdKeys: string[]
  archivedNow: string[]
  /** Hosts with a pending key (keys/<host>.key.next): a rotation is under way and the mesh uses the new key. */
  pendingKeys: string[]
  /** Pending preshared key files (secrets/<a>+<b>.psk, whose .next is in use). */
  pendingPsks: string[]
  stateChanged: boolean
  /** state.json as it is after this load (in a preview: as it would be; nothing is written). */
  state: MeshState
}

/** state.json's public key when its keyCheck proves it belongs to this private key: no derivation needed. */
function cachedPublicKey(prev: HostState | undefined, privateKey: string, rotating: boolean): string | undefined {
  if (!prev?.keyCheck || !prev.publicKey || rotating || prev.pendingPublicKey) return undefined
  return keyCheckOf(privateKey, prev.publicKey) === prev.keyCheck ? prev.publicKey : undefined
}

export function readInventory(inventoryFile: string): Inventory {
  return parseInventory(readInventoryText(inventoryFile), inventoryFile)
}

/** The inventory's text: a regular file, bounded, valid UTF-8. */
export function readInventoryText(inventoryFile: string): string {
  const file = resolve(inventoryFile)
  // A FIFO, device or directory is refused before a byte is read; a huge file is a mistake (or hostile).
  const bytes = readRegularFile(file, {
    what: 'inventory file',
    maxBytes: MAX_INVENTORY_BYTES,
    tooBig: (size) =>
      new InventoryError(inventoryFile, [{path: '(file)', message: `is ${size} bytes; inventories are limited to ${MAX_INVENTORY_BYTES}`, fix: 'split or trim the file'}]),
  })
  if (bytes === null) throw new UserError(`inventory file ${inventoryFile} does not exist`, 'pass an inventory with -i, e.g. -i inventory/example.yaml')
  const text = bytes.toString('utf8')
  if (Buffer.from(text, 'utf8').compare(bytes) !== 0) {
    throw new InventoryError(inventoryFile, [{path: '(file)', message: 'is not valid UTF-8', fix: 'save the file as UTF-8 text'}])
  }
  return text
}

function allocateFamily(inv: Inventory, state: MeshState, family: 'ipv4' | 'ipv6', file: string) {
  const cidr = inv.network[family]
  if (!cidr) return null
  const field = family === 'ipv4' ? 'address' : 'address6'
  const requests: AddressRequest[] = inv.hosts.map((h) => ({
    name: h.name,
    pinned: h[field],
    // A host that comes back after removal gets its old address again (its key was kept too).
    previous: state.hosts[h.name]?.[family] ?? state.archived.find((a) => a.name === h.name)?.[family],
  }))
  const issues = checkAllocation(cidr, family, requests, field)
  if (issues.length) throw new InventoryError(file, issues)
  // Hosts dropped from the inventory in this very run count as archived too: their old address must
  // not go straight to a new host while the old one may still be up with stale peers.
  const names = new Set(inv.hosts.map((h) => h.name))
  const dropped = Object.entries(state.hosts).filter(([n]) => !names.has(n)).map(([, h]) => h)
  const archived = [...state.archived, ...dropped].map((a) => a[family]).filter(Boolean) as string[]
  return allocate(cidr, family, requests, archived)
}

export interface LoadOptions {
  inventoryFile: string
  stateDir?: string
  /** false: compute everything, write nothing (keys missing -> error, unless preview). */
  persist?: boolean
  /** With persist false: missing keys and secrets are made in memory and shown as "to be created". */
  preview?: boolean
  /** The inventory already read from inventoryFile (a check before the lock, then the load under it): parsed once. */
  inventory?: Inventory
  /** Keys made for missing key files: a preview records them, the load under the lock keeps the same ones. */
  keysMade?: Map<string, WgKeyPair>
}

export function loadMesh({inventoryFile, stateDir, persist = true, preview = false, keysMade, ...given}: LoadOptions): LoadedMesh {
  const inventory = given.inventory ?? readInventory(inventoryFile)
  const store = new StateStore(stateDir ?? defaultStateDir(inventoryFile))
  const state = store.load()
  checkKeysMode(inventory, state, store.stateFile)
  const hostKeys = inventory.network.keys === 'host'
  const notes: string[] = []
  const pendingHostKeys: string[] = []

  const v4 = allocateFamily(inventory, state, 'ipv4', inventoryFile)
  const v6 = allocateFamily(inventory, state, 'ipv6', inventoryFile)
  for (const m of [...(v4?.moved ?? []), ...(v6?.moved ?? [])]) notes.push(`${m.name}: address moves ${m.from} -> ${m.to} (${m.why})`)

  const {privateKeys, createdKeys, madePublicKeys, committed, presharedKeys, pendingPsks, cookie, createdCookie} = loadSecrets(
    store,
    inventory.hosts.map((h) => h.name),
    {persist, preview, presharedKeys: inventory.network.presharedKeys, hostKeys, keysMade},
  )
  if (!persist) for (const name of createdKeys) notes.push(`${name}: key and address to be created (this preview wrote nothing)`)

  const assignments = new Map<string, HostAssignment>()
  const hosts: Record<string, HostState> = {}
  for (const h of inventory.hosts) {
    if (hostKeys) {
      const prev = state.hosts[h.name]
      const {publicKey, ref} = recordedHostKey(prev)
      privateKeys.set(h.name, ref)
      if (!publicKey) pendingHostKeys.push(h.name)
      const addr = {ipv4: v4?.assigned.get(h.name), ipv6: v6?.assigned.get(h.name)}
      hosts[h.name] = {...addr, publicKey: prev?.publicKey, pendingPublicKey: prev?.pendingPublicKey, rotateOnHost: prev?.rotateOnHost, endpoint: h.endpoint, ssh: sshTargetOf(h, inventory)}
      assignments.set(h.name, {...addr, publicKey: publicKey ?? ''})
      continue
    }
    const privateKey = privateKeys.get(h.name)!
    const prev = state.hosts[h.name]
    const publicKey = madePublicKeys.get(h.name) ?? cachedPublicKey(prev, privateKey, committed.has(h.name)) ?? publicKeyOf(privateKey)
    const committedKey = committed.get(h.name) ?? publicKey
    if (prev && prev.publicKey !== committedKey) notes.push(`${h.name}: key file changed outside mesh (public key differs from state.json); peers will get the new key`)
    const entry = {ipv4: v4?.assigned.get(h.name), ipv6: v6?.assigned.get(h.name), publicKey}
    const pendingPublicKey = committed.has(h.name) ? publicKey : undefined
    // During a rotation state.json keeps the committed key, not the one in use: nothing to cache then.
    const keyCheck = pendingPublicKey ? undefined : keyCheckOf(privateKey, publicKey)
    hosts[h.name] = {...entry, publicKey: committedKey, pendingPublicKey, keyCheck, endpoint: h.endpoint, ssh: sshTargetOf(h, inventory)}
    assignments.set(h.name, entry)
  }

  const names = new Set(inventory.hosts.map((h) => h.name))
  const archivedNow: string[] = []
  const archived: ArchivedHost[] = state.archived.filter((a) => !names.has(a.name))
  for (const [name, prev] of Object.entries(state.hosts)) {
    if (names.has(name)) continue
    archivedNow.push(name)
    archived.push({name, ...prev, teardownPending: true})
    notes.push(`${name}: no longer in the inventory; archived in state.json (its key is kept)`)
  }
  if (pendingHostKeys.length) notes.push(`public keys pending for ${pendingHostKeys.join(', ')}: \`mesh apply\` makes each key on its host and collects the public key (peers get it in the same apply)`)
  const next: MeshState = {version: 1, ...(hostKeys || state.keys ? {keys: 'host' as const} : {}), hosts, archived}
  const stateChanged = persist ? store.save(next) : false

  return {
    inventoryFile,
    inventory,
    store,
    mesh: buildMesh(inventory, assignments),
    privateKeys,
    hostKeys,
    pendingHostKeys,
    presharedKeys,
    cookie,
    createdCookie,
    notes,
    createdKeys,
    archivedNow,
    pendingKeys: [...committed.keys()],
    pendingPsks,
    stateChanged,
    state: next,
  }
}
