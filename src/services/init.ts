// `mesh init`: validate, allocate, create missing keys, render every host's files into an output folder.
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {ByteBuilder} from '../core/bytes.js'
import {Inventory} from '../core/inventory.js'
import {renderHostsBlock, wgConfigRenderer} from '../core/render.js'
import {WgKeyPair} from '../core/wgkeys.js'
import {lockStateDir} from '../state/lock.js'
import {OutputWriter} from '../state/output.js'
import {assertPrivate, defaultOutDir, defaultStateDir, ensurePrivateDir} from '../state/store.js'
import {beamFilesFor} from './beam-files.js'
import {loadMesh, readInventory} from './mesh.js'

export interface InitOptions {
  inventoryFile: string
  stateDir?: string
  outDir?: string
}

export interface InitHostSummary {
  name: string
  ipv4?: string
  ipv6?: string
  endpoint: string
  /** Absent with network.keys: host until `mesh apply` has collected the key the host made. */
  publicKey?: string
}

export interface InitResult {
  inventory: string
  stateDir: string
  outDir: string
  interface: string
  hosts: InitHostSummary[]
  createdKeys: string[]
  /** Where private keys are made: the state dir (local) or each host (host). */
  keys: 'local' | 'host'
  /** network.keys: host: hosts whose public key `mesh apply` has yet to collect (left out of their peers' configs). */
  pendingKeys: string[]
  archived: string[]
  notes: string[]
  /** Output and state files written by this run (empty on a re-run with nothing new). */
  written: string[]
}

/** The output holds private keys: refuse an exposed folder before anything (keys, state) is written. */
function checkOutDir(outDir: string): void {
  if (!existsSync(outDir)) return
  assertPrivate(outDir, 'dir')
  for (const e of readdirSync(outDir, {withFileTypes: true})) if (e.isDirectory()) assertPrivate(join(outDir, e.name), 'dir')
}

export function runInit(opts: InitOptions): InitResult {
  const outDir = opts.outDir ?? defaultOutDir(opts.inventoryFile)
  checkOutDir(outDir)
  // Validate everything (inventory, state, allocation, key files) before anything is made, the lock
  // included: a bad input leaves no state dir behind and not even an mtime changed.
  // The inventory is the user's input, not ours to guard: read once, before the lock. State is read under it.
  const inventory = readInventory(opts.inventoryFile)
  // The keys the check makes for hosts without one are the keys the run under the lock writes.
  const keysMade = new Map<string, WgKeyPair>()
  loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir, persist: false, preview: true, inventory, keysMade})
  const lock = lockStateDir(opts.stateDir ?? defaultStateDir(opts.inventoryFile), 'init')
  try {
    return initLocked(opts, outDir, inventory, keysMade)
  } finally {
    lock.release()
  }
}

function initLocked(opts: InitOptions, outDir: string, inventory: Inventory, keysMade: Map<string, WgKeyPair>): InitResult {
  const loaded = loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir, inventory, keysMade})
  const {mesh, store} = loaded
  const written: string[] = loaded.stateChanged ? [store.stateFile] : []

  // The output holds private keys (wg configs): same protection as the state.
  ensurePrivateDir(outDir)
  const wg = wgConfigRenderer(mesh)
  const extraFiles = beamFilesFor(loaded)
  const out = new OutputWriter()
  const config = new ByteBuilder()
  const write = (path: string, content: Buffer | string, mode: number) => {
    if (out.write(path, content, mode)) written.push(path)
  }
  write(join(outDir, 'hosts.block'), renderHostsBlock(mesh), 0o644)
  // One host at a time: its files are rendered, written and dropped before the next host's, so memory
  // holds one host's files (a wg config grows with the fleet), never the whole fleet's.
  for (const host of mesh.hosts) {
    const hostDir = join(outDir, host.name)
    ensurePrivateDir(hostDir)
    wg.into(config.reset(), host, loaded.privateKeys.get(host.name)!, {presharedKeys: loaded.presharedKeys?.get(host.name)})
    // 0600 as on the host: it holds the private key.
    write(join(hostDir, `${mesh.interface}.conf`), config.bytes(), 0o600)
    // Secret extra files (the cluster cookie) are not copied: the same value for every host, so one
    // copy in the state dir (secrets/cookie) is enough, and each copy is one more place it can leak.
    for (const f of extraFiles(host)) if (!f.secret) write(join(hostDir, f.path.split('/').pop()!), f.content, f.mode)
  }

  return {
    inventory: opts.inventoryFile,
    stateDir: store.dir,
    outDir,
    interface: mesh.interface,
    hosts: mesh.hosts.map((h) => ({name: h.name, ipv4: h.ipv4, ipv6: h.ipv6, endpoint: h.endpoint, ...(h.publicKey ? {publicKey: h.publicKey} : {})})),
    createdKeys: loaded.createdKeys,
    keys: loaded.hostKeys ? 'host' : 'local',
    pendingKeys: loaded.pendingHostKeys,
    archived: loaded.archivedNow,
    notes: loaded.notes,
    written,
  }
}

