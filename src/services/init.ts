// `mesh init`: validate, allocate, create missing keys, render every host's files into an output folder.
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {desiredState} from '../core/desired.js'
import {lockStateDir} from '../state/lock.js'
import {assertPrivate, defaultOutDir, defaultStateDir, ensurePrivateDir, writeIfChanged} from '../state/store.js'
import {beamFilesFor} from './beam-files.js'
import {loadMesh} from './mesh.js'

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
  publicKey: string
}

export interface InitResult {
  inventory: string
  stateDir: string
  outDir: string
  interface: string
  hosts: InitHostSummary[]
  createdKeys: string[]
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
  loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir, persist: false, preview: true})
  const lock = lockStateDir(opts.stateDir ?? defaultStateDir(opts.inventoryFile), 'init')
  try {
    return initLocked(opts, outDir)
  } finally {
    lock.release()
  }
}

function initLocked(opts: InitOptions, outDir: string): InitResult {
  const loaded = loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir})
  const {mesh, store} = loaded
  const written: string[] = loaded.stateChanged ? [store.stateFile] : []

  // The output holds private keys (wg configs): same protection as the state.
  ensurePrivateDir(outDir)
  const desired = desiredState(mesh, {privateKeys: loaded.privateKeys, presharedKeys: loaded.presharedKeys, extraFiles: beamFilesFor(loaded)})
  const write = (path: string, content: string, mode: number) => {
    if (writeIfChanged(path, content, mode)) written.push(path)
  }
  write(join(outDir, 'hosts.block'), desired[0].hostsBlock, 0o644)
  for (const d of desired) {
    const hostDir = join(outDir, d.host.name)
    ensurePrivateDir(hostDir)
    write(join(hostDir, `${mesh.interface}.conf`), d.wgConfig.content, d.wgConfig.mode)
    // Secret extra files (the cluster cookie) are not copied: the same value for every host, so one
    // copy in the state dir (secrets/cookie) is enough, and each copy is one more place it can leak.
    for (const f of d.extraFiles) if (!f.secret) write(join(hostDir, f.path.split('/').pop()!), f.content, f.mode)
  }

  return {
    inventory: opts.inventoryFile,
    stateDir: store.dir,
    outDir,
    interface: mesh.interface,
    hosts: mesh.hosts.map((h) => ({name: h.name, ipv4: h.ipv4, ipv6: h.ipv6, endpoint: h.endpoint, publicKey: h.publicKey})),
    createdKeys: loaded.createdKeys,
    archived: loaded.archivedNow,
    notes: loaded.notes,
    written,
  }
}

