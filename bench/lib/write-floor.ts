// Init's floor: the same files written again with the same durability, and nothing else (no parsing, no
// addressing, no key derivation, no rendering). Cold init on this machine class is bound by the file system
// (creating ~4 files per host, and one fsync per private key), so its figure means little without this one
// measured beside it in the same run.
// Replayed from init's own output: every folder with its mode; keys and secrets created exclusively and fsynced
// (as StateStore.secret does); state.json written to a temp file, fsynced and renamed; every other file written
// to a temp file and renamed without an fsync (as OutputWriter does); the folders holding fsynced entries fsynced.
import {closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, writeSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'

import {fsyncDir} from '../../src/state/store.js'

interface Entry {
  rel: string
  mode: number
  bytes?: Buffer
}

/** Everything under `from` (relative paths, modes, contents), except the files `skip` names. */
export function snapshotTree(from: string, skip: (rel: string) => boolean): Entry[] {
  const out: Entry[] = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, {withFileTypes: true})) {
      const path = join(dir, e.name)
      const rel = relative(from, path)
      if (skip(rel)) continue
      const mode = statSync(path).mode & 0o777
      if (e.isDirectory()) {
        out.push({rel, mode})
        walk(path)
      } else if (e.isFile()) out.push({rel, mode, bytes: readFileSync(path)})
    }
  }
  walk(from)
  return out
}

const isSecret = (rel: string) => /(^|\/)(keys|secrets)\//.test(rel)

function writeAll(fd: number, bytes: Buffer) {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off)
}

/** Writes the snapshot under `to` (an empty folder) as init would; returns the milliseconds it took. */
export function replayTree(entries: Entry[], to: string): number {
  const t0 = performance.now()
  const synced = new Set<string>()
  for (const e of entries) {
    const path = join(to, e.rel)
    if (!e.bytes) {
      mkdirSync(path, {mode: e.mode})
      continue
    }
    if (isSecret(e.rel)) {
      const fd = openSync(path, 'wx', e.mode)
      try {
        writeAll(fd, e.bytes)
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      synced.add(dirname(path))
      continue
    }
    const durable = e.rel.endsWith('state.json')
    const tmp = `${path}.tmp`
    const fd = openSync(tmp, 'w', e.mode)
    try {
      writeAll(fd, e.bytes)
      if (durable) fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
    if (durable) synced.add(dirname(path))
  }
  for (const dir of synced) fsyncDir(dir)
  return performance.now() - t0
}
