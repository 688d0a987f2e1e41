// network.keys: host in the shared flows. loadMesh: public keys come from state.json only (placeholders stand in
// for private keys). apply: the facts round trip makes/collects the hosts' keys, then every config is rendered
// with them (peers of a new host get its key in the same apply), and a changed key is rolled out like a rotation.
import {existsSync, rmSync} from 'node:fs'

import {UserError} from '../core/errors.js'
import {HOST_KEY, HOST_KEY_NEXT, HostKeyDecision, HostKeyRef, decideHostKey, hostKeyRequest} from '../core/host-keys.js'
import {Inventory} from '../core/inventory.js'
import {hostKeyCommitScript} from '../remote/host-key-script.js'
import {pendingFile} from '../state/rotation.js'
import {HostState, MeshState, StateStore} from '../state/store.js'

/** host-mode state refused in local mode: a silent switch would make new local keys with no ordered rollout. */
export function checkKeysMode(inv: Inventory, state: MeshState, file: string): void {
  if (inv.network.keys === 'local' && state.keys === 'host') {
    throw new UserError(
      `${file} says this mesh keeps its private keys on its hosts, but network.keys is local (or unset) in the inventory`,
      'set network.keys: host again. Moving keys from the hosts back to this machine is not supported: it would copy every ' +
        'private key off its host, which is what host mode exists to prevent (see "Where private keys live" in the README)',
    )
  }
}

/** Host mode: the key each host runs as far as state.json knows, before any host is asked. */
export function recordedHostKey(prev: HostState | undefined): {publicKey?: string; ref: HostKeyRef} {
  return {publicKey: prev?.pendingPublicKey ?? prev?.publicKey, ref: prev?.pendingPublicKey ? HOST_KEY_NEXT : HOST_KEY}
}

export const hasLocalKey = (store: StateStore, host: string) => existsSync(store.keyFile(host)) || existsSync(pendingFile(store.keyFile(host)))

/** The facts request for one host (make a missing key; make a rotation's pending key when asked for one). */
export function factsRequest(state: MeshState, host: string, preview: boolean) {
  return hostKeyRequest({rotateRequested: Boolean(state.hosts[host]?.rotateOnHost)}, preview)
}

export interface KeyedHost {
  name: string
  facts?: {hostKey?: import('../core/host-keys.js').HostKeyFacts}
}

/** Decisions for every host of the mesh: reached ones from their facts, the others from state.json. */
export function decideAll(state: MeshState, store: StateStore, iface: string, names: string[], reached: KeyedHost[]): HostKeyDecision[] {
  const facts = new Map(reached.map((r) => [r.name, r.facts?.hostKey]))
  return names.map((name) => {
    const prev = state.hosts[name]
    return decideHostKey({
      name,
      iface,
      recorded: prev?.publicKey,
      recordedPending: prev?.pendingPublicKey,
      facts: facts.get(name),
      localKey: hasLocalKey(store, name),
      rotateRequested: Boolean(prev?.rotateOnHost),
    })
  })
}

/** Writes the decisions into state.json's entries (committed and pending public keys); returns true when changed. */
export function recordDecisions(state: MeshState, decisions: HostKeyDecision[]): void {
  for (const d of decisions) {
    const entry = state.hosts[d.name]
    if (!entry) continue
    entry.publicKey = d.committed
    entry.pendingPublicKey = d.pending
  }
}

/** Commit helpers for the end of an apply in host mode. */
export interface HostKeyCommitTarget {
  name: string
  decision: HostKeyDecision
  commit(script: string): Promise<unknown>
}

/**
 * Every host runs its new key: pending keys become current on the hosts (rename), state.json records them, and
 * the local private keys of a mesh that moved to host keys are deleted from the state dir.
 */
export async function commitHostKeys(store: StateStore, iface: string, targets: HostKeyCommitTarget[]): Promise<string[]> {
  const committed: string[] = []
  for (const t of targets) if (t.decision.onNext) await t.commit(hostKeyCommitScript(iface))
  const state = store.load()
  for (const t of targets) {
    const entry = state.hosts[t.name]
    if (!entry || !t.decision.publicKey) continue
    if (entry.publicKey !== t.decision.publicKey || entry.pendingPublicKey) committed.push(t.name)
    entry.publicKey = t.decision.publicKey
    delete entry.pendingPublicKey
    delete entry.rotateOnHost
  }
  store.save(state)
  for (const t of targets) {
    for (const f of [store.keyFile(t.name), pendingFile(store.keyFile(t.name))]) rmSync(f, {force: true})
  }
  return committed
}

export const placeholderFor = (d: HostKeyDecision): HostKeyRef => (d.onNext ? HOST_KEY_NEXT : HOST_KEY)
