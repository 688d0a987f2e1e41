// One apply at a time per state directory: an O_EXCL lock file holding the owner's pid.
import {closeSync, openSync, readFileSync, unlinkSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {UserError} from '../core/errors.js'
import {ensurePrivateDir} from './store.js'

export interface Lock {
  release(): void
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Locks this process holds, by path: a command that takes the lock and then runs apply nests, not deadlocks. */
const held = new Map<string, {count: number; release: () => void}>()

export function acquireLock(stateDir: string, what: string): Lock {
  const path = join(stateDir, 'apply.lock')
  let entry = held.get(path)
  if (!entry) {
    const lock = takeLock(path, stateDir, what)
    const release = () => {
      held.delete(path)
      lock.release()
    }
    entry = {count: 0, release}
    held.set(path, entry)
  }
  const e = entry
  e.count++
  let released = false
  return {
    release() {
      if (released) return
      released = true
      if (--e.count === 0) e.release()
    },
  }
}

interface Owner {
  pid?: number
  host?: string
  what?: string
}

/** The lock file's text, or null when it is gone. */
function readRaw(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}

function parseOwner(raw: string): Owner {
  try {
    return JSON.parse(raw) as Owner
  } catch {
    return {} // a lock being written right now, or garbage: treat as held
  }
}

/** O_EXCL create: exactly one process gets it. Throws EEXIST otherwise. */
function create(path: string, what: string): Lock {
  const fd = openSync(path, 'wx', 0o600)
  try {
    writeSync(fd, JSON.stringify({pid: process.pid, host: hostname(), what}))
  } finally {
    closeSync(fd)
  }
  let released = false
  const release = () => {
    if (released) return
    released = true
    process.off('exit', release)
    try {
      unlinkSync(path)
    } catch {
      // already gone: nothing to release
    }
  }
  // process.exit() (a second Ctrl-C) skips every finally: release on the way out all the same.
  process.on('exit', release)
  return {release}
}

/**
 * Replaces a stale lock (its owner died on this machine) under a guard file taken with O_EXCL: only one
 * process at a time may remove a lock, and it removes it only if it still holds the very bytes it judged
 * stale, then creates its own before letting go of the guard. Without the guard two processes could both
 * see the stale lock, and the second would delete the first one's fresh lock: both would "win".
 */
function takeOver(path: string, staleRaw: string, what: string): Lock | null {
  const guard = `${path}.takeover`
  let fd: number
  try {
    fd = openSync(guard, 'wx', 0o600)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null
    throw e
  }
  try {
    if (readRaw(path) !== staleRaw) return null
    unlinkSync(path)
    try {
      return create(path, what)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return null // a fresh lock won between unlink and create
      throw e
    }
  } finally {
    closeSync(fd)
    unlinkSync(guard)
  }
}

/** The lock of a state dir that may not exist yet (a first apply or init): the dir is made (0700) first. */
export function lockStateDir(stateDir: string, what: string): Lock {
  ensurePrivateDir(stateDir)
  return acquireLock(stateDir, what)
}

function takeLock(path: string, stateDir: string, what: string): Lock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return create(path, what)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const raw = readRaw(path)
    if (raw === null) continue // released between our create and our read: try again
    const owner = parseOwner(raw)
    // A lock left by a crashed run on this machine is stale: take it over, atomically.
    const stale = owner.host === hostname() && owner.pid && !alive(owner.pid)
    const won = stale ? takeOver(path, raw, what) : null
    if (won) return won
    const now = parseOwner(readRaw(path) ?? raw)
    throw new UserError(
      `another mesh ${now.what ?? 'run'} holds the lock on ${stateDir} (pid ${now.pid ?? '?'} on ${now.host ?? '?'})`,
      `wait for it to finish; if it is gone, delete ${path}`,
    )
  }
  throw new UserError(`could not take the lock on ${stateDir}`, `delete ${join(stateDir, 'apply.lock')} if no mesh command is running`)
}
