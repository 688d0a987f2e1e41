// lab.json: the record of what `mesh lab up` created.
import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'

import {UserError} from '../core/errors.js'
import {LabPaths} from './naming.js'
import {LabState} from './types.js'

export function writeLabState(paths: LabPaths, state: LabState): void {
  // Write-then-rename: a crash never leaves half a lab.json behind.
  const tmp = `${paths.stateFile}.tmp`
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, {mode: 0o644})
  renameSync(tmp, paths.stateFile)
}

/** The recorded lab, or null when there is none (or it is unreadable: `down` then works from the prefix). */
export function readLabState(paths: LabPaths): LabState | null {
  if (!existsSync(paths.stateFile)) return null
  try {
    const state = JSON.parse(readFileSync(paths.stateFile, 'utf8')) as LabState
    return state && state.version === 1 && Array.isArray(state.hosts) ? state : null
  } catch {
    return null
  }
}

export function requireLabState(paths: LabPaths): LabState {
  const state = readLabState(paths)
  if (!state) throw new UserError(`no lab in ${paths.dir} (no readable lab.json)`, 'start one with `mesh lab up --hosts 3`, or pass the --dir it used')
  return state
}
