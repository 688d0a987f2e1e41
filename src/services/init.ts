// `mesh init`: validate, allocate, create missing keys, render every host's files into an output folder.
import {join} from 'node:path'

import {desiredState} from '../core/desired.js'
import {defaultOutDir, ensurePrivateDir, writeIfChanged} from '../state/store.js'
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

export function runInit(opts: InitOptions): InitResult {
  const loaded = loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir})
  const {mesh, store} = loaded
  const outDir = opts.outDir ?? defaultOutDir(opts.inventoryFile)
  const written: string[] = loaded.stateChanged ? [store.stateFile] : []

  // The output holds private keys (wg configs): same protection as the state.
  ensurePrivateDir(outDir)
  const desired = desiredState(mesh, {privateKeys: loaded.privateKeys})
  const write = (path: string, content: string, mode: number) => {
    if (writeIfChanged(path, content, mode)) written.push(path)
  }
  write(join(outDir, 'hosts.block'), desired[0].hostsBlock, 0o644)
  for (const d of desired) {
    const hostDir = join(outDir, d.host.name)
    ensurePrivateDir(hostDir)
    write(join(hostDir, `${mesh.interface}.conf`), d.wgConfig.content, d.wgConfig.mode)
    for (const f of d.extraFiles) write(join(hostDir, f.path.split('/').pop()!), f.content, f.mode)
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

