// network.keys: host inside `mesh apply`: after the facts of every host are in, each host's key is decided
// (collected, new, changed, rotating), the configs are rendered again with those public keys, and at the end a
// rotation's pending keys are committed on the hosts. Only public keys are handled here.
import {HostKeyDecision} from '../core/host-keys.js'
import type {HostSession} from './apply-types.js'
import {commitHostKeys, decideAll, factsRequest, hasLocalKey, placeholderFor, recordDecisions} from './host-keys.js'
import type {LoadedMesh} from './mesh.js'

export {factsRequest}

const decided = new WeakMap<LoadedMesh, HostKeyDecision[]>()

/**
 * Decides every host's key from the facts, puts the public keys into the mesh and state.json (not written in a
 * preview) and orders changed keys as a rotation (loaded.pendingKeys); the caller then renders each host's files
 * with those keys.
 */
export function useHostKeys(loaded: LoadedMesh, sessions: HostSession[], dryRun: boolean): void {
  const reached = sessions.filter((s) => s.facts && !s.error).map((s) => ({name: s.host.name, facts: s.facts}))
  const decisions = decideAll(loaded.state, loaded.store, loaded.mesh.interface, loaded.mesh.hosts.map((h) => h.name), reached)
  decided.set(loaded, decisions)
  const byName = new Map(decisions.map((d) => [d.name, d]))
  for (const host of loaded.mesh.hosts) {
    const d = byName.get(host.name)!
    host.publicKey = d.publicKey ?? ''
    loaded.privateKeys.set(host.name, placeholderFor(d))
  }
  // The per-host notes replace loadMesh's summary of pending keys (this apply collected what it could).
  loaded.notes = [...loaded.notes.filter((n) => !n.startsWith('public keys pending for ')), ...decisions.flatMap((d) => (d.note ? [d.note] : []))]
  loaded.pendingHostKeys = decisions.filter((d) => !d.publicKey).map((d) => d.name)
  loaded.pendingKeys = decisions.filter((d) => d.rotating).map((d) => d.name)
  recordDecisions(loaded.state, decisions)
  if (!dryRun) loaded.store.save(loaded.state)
}

/** Something to commit at the end: a changed key, a pending key file on a host, or local keys left to delete. */
export function hostKeysToCommit(loaded: LoadedMesh): boolean {
  const decisions = decided.get(loaded) ?? []
  return decisions.some((d) => d.rotating || d.onNext) || (loaded.hostKeys && loaded.mesh.hosts.some((h) => hasLocalKey(loaded.store, h.name)))
}

/** Every host runs its key: commit on the hosts and in the state dir. Returns an error text instead of throwing. */
export async function commitSessionHostKeys(loaded: LoadedMesh, sessions: HostSession[]): Promise<string | null> {
  const byName = new Map((decided.get(loaded) ?? []).map((d) => [d.name, d]))
  const targets = sessions.flatMap((s) => {
    const decision = byName.get(s.host.name)
    if (!decision || !s.remote) return []
    const remote = s.remote
    return [{name: s.host.name, decision, commit: (script: string) => remote.commitHostKey(script)}]
  })
  try {
    await commitHostKeys(loaded.store, loaded.mesh.interface, targets)
    return null
  } catch (e) {
    return `committing the new keys on the hosts failed (${(e as Error).message}); re-run to finish`
  }
}
