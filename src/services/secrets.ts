// The secrets of a mesh in the state dir: private keys (with a rotation's pending .next keys), preshared
// keys per pair and the cluster cookie. Every existing secret is read and checked before one is created.
import {join} from 'node:path'

import {isCookie, makeCookie} from '../core/beam.js'
import {UserError} from '../core/errors.js'
import {generateKeyPair, generatePresharedKey, isWgKey, publicKeyOf, WgKeyPair} from '../core/wgkeys.js'
import {pendingFile} from '../state/rotation.js'
import {StateStore} from '../state/store.js'

export interface MeshSecrets {
  /** host -> private key in use (the pending one during a rotation). Never log these. */
  privateKeys: Map<string, string>
  createdKeys: string[]
  /** host -> public key of a private key made by this load (and in use): known from its making, not derived again. */
  madePublicKeys: Map<string, string>
  /** Hosts in a key rotation -> their committed (old) public key, which state.json keeps until the commit. */
  committed: Map<string, string>
  presharedKeys?: Map<string, Map<string, string>>
  pendingPsks: string[]
  cookie: string
  createdCookie: boolean
}

export interface SecretsOptions {
  persist: boolean
  preview?: boolean
  presharedKeys: boolean
  hostKeys?: boolean
  /**
   * Keys made for missing key files, by host. A preview records the keys it makes here, and a later load that
   * persists takes them from here instead of making others: `mesh init` checks everything in a preview before
   * it takes the lock, and each new key is made once, not twice.
   */
  keysMade?: Map<string, WgKeyPair>
}

export function loadSecrets(store: StateStore, allHosts: string[], opts: SecretsOptions): MeshSecrets {
  const {persist} = opts
  // network.keys: host: no private key is read or made here (the hosts make their own); PSKs and the cookie still are.
  const hosts = opts.hostKeys ? [] : allHosts
  // A preview makes what is missing in memory only: the plan shows it, and nothing lands on disk.
  const make = (path: string, gen: () => string) => (persist ? store.secret(path, gen) : {value: gen(), created: true})
  // Bad modes stop us before anything is read or created.
  store.checkModes()
  const privateKeys = new Map<string, string>()
  const missing: string[] = []
  for (const name of hosts) {
    const key = store.readSecret(store.keyFile(name))
    if (key === null) missing.push(name)
    else if (!isWgKey(key)) throw new UserError(`${store.keyFile(name)} does not hold a WireGuard private key`, 'restore the file from a backup, or delete it to give the host a new key (peers must then be re-applied)')
    else privateKeys.set(name, key)
  }
  if (!persist && !opts.preview && missing.length) {
    throw new UserError(`no key yet for ${missing.join(', ')}`, 'run `mesh init` first')
  }
  const {value: cookie, created: createdCookie} = loadCookie(store, persist || Boolean(opts.preview), make)
  const createdKeys: string[] = []
  const madePublicKeys = new Map<string, string>()
  for (const name of missing) {
    const pair = opts.keysMade?.get(name) ?? generateKeyPair()
    opts.keysMade?.set(name, pair)
    const {value, created} = make(store.keyFile(name), () => pair.privateKey)
    privateKeys.set(name, value)
    if (value === pair.privateKey) madePublicKeys.set(name, pair.publicKey)
    if (created) createdKeys.push(name)
  }

  // A rotation under way: the mesh is rendered with the pending key; state.json keeps the committed one.
  const committed = new Map<string, string>()
  for (const name of hosts) {
    const next = store.readSecret(pendingFile(store.keyFile(name)))
    if (next === null || !privateKeys.has(name)) continue
    if (!isWgKey(next)) throw new UserError(`${pendingFile(store.keyFile(name))} does not hold a WireGuard private key`, 'delete it and run `mesh rotate-keys` again')
    committed.set(name, madePublicKeys.get(name) ?? publicKeyOf(privateKeys.get(name)!))
    madePublicKeys.delete(name)
    privateKeys.set(name, next)
  }
  const pendingPsks: string[] = []
  const presharedKeys = opts.presharedKeys ? pairKeys(store, allHosts, persist || Boolean(opts.preview), pendingPsks, make) : undefined
  // Every secret created above is fsynced; their folders once, here, before anything names them.
  if (persist) store.syncDirs()
  return {privateKeys, createdKeys, madePublicKeys, committed, presharedKeys, pendingPsks, cookie, createdCookie}
}

/** One preshared key per pair of hosts, in secrets/<a>+<b>.psk (names sorted), created once and kept (a .next beside it is in rotation). */
type Make = (path: string, gen: () => string) => {value: string; created: boolean}

function pairKeys(store: StateStore, names: string[], persist: boolean, pending: string[], make: Make): Map<string, Map<string, string>> {
  const byHost = new Map(names.map((n) => [n, new Map<string, string>()]))
  const sorted = [...names].sort()
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const [a, b] = [sorted[i], sorted[j]]
      const file = join(store.secretsDir, `${a}+${b}.psk`)
      const existing = store.readSecret(file)
      if (existing === null && !persist) throw new UserError(`no preshared key yet for ${a} and ${b}`, 'run `mesh init` first')
      const next = existing === null ? null : store.readSecret(pendingFile(file))
      if (next !== null) pending.push(file)
      const psk = next ?? existing ?? make(file, generatePresharedKey).value
      if (!isWgKey(psk)) throw new UserError(`${file} does not hold a WireGuard preshared key`, 'restore it from a backup, or delete it to make a new one')
      byHost.get(a)!.set(b, psk)
      byHost.get(b)!.set(a, psk)
    }
  }
  return byHost
}

export const cookieFile = (store: StateStore) => join(store.secretsDir, 'cookie')

/** The cluster cookie: read and checked, or created once (0600) and then kept for good. */
function loadCookie(store: StateStore, persist: boolean, make: Make): {value: string; created: boolean} {
  const file = cookieFile(store)
  const existing = store.readSecret(file)
  if (existing === null && !persist) throw new UserError('no BEAM cookie yet', 'run `mesh init` first')
  const got = existing === null ? make(file, () => makeCookie()) : {value: existing, created: false}
  if (!isCookie(got.value)) {
    throw new UserError(`${file} does not hold a cookie of 32-255 letters and digits`, 'restore it from a backup, or delete it to make a new one (then restart every node)')
  }
  return got
}
