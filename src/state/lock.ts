// One apply at a time per state directory: an O_EXCL lock file holding the owner's pid.
import {closeSync, openSync, readFileSync, unlinkSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {UserError} from '../core/errors.js'

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

function takeLock(path: string, stateDir: string, what: string): Lock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, JSON.stringify({pid: process.pid, host: hostname(), what}))
      closeSync(fd)
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
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      let owner: {pid?: number; host?: string; what?: string} = {}
      try {
        owner = JSON.parse(readFileSync(path, 'utf8'))
      } catch {
        // a lock being written right now, or garbage: treat as held
      }
      // A lock left by a crashed run on this machine is stale: take it over once.
      if (attempt === 0 && owner.host === hostname() && owner.pid && !alive(owner.pid)) {
        unlinkSync(path)
        continue
      }
      throw new UserError(
        `another mesh ${owner.what ?? 'run'} holds the lock on ${stateDir} (pid ${owner.pid ?? '?'} on ${owner.host ?? '?'})`,
        `wait for it to finish; if it is gone, delete ${path}`,
      )
    }
  }
  throw new UserError(`could not take the lock on ${stateDir}`, `delete ${join(stateDir, 'apply.lock')} if no mesh command is running`)
}
