// Runs the built CLI (dist/ must be built: `npm test` builds first) as a user would: a real process, a chosen cwd and env.
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {execaSync} from 'execa'

import {tmpDir as removedAtEnd} from '../support/helpers.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const EXAMPLE = join(ROOT, 'inventory', 'example.yaml')

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** MESH_INVENTORY is removed from the environment unless the caller sets it: a developer's own must not leak in. */
export function mesh(args: string[], opts: {cwd?: string; env?: Record<string, string>; input?: string} = {}): CliRun {
  const env: Record<string, string | undefined> = {...process.env, NO_COLOR: '1', MESH_INVENTORY: undefined, ...opts.env}
  const res = execaSync(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: opts.cwd ?? ROOT,
    env,
    extendEnv: false,
    input: opts.input ?? '',
    timeout: 60_000,
    reject: false,
    stripFinalNewline: false,
  })
  return {code: res.exitCode ?? null, stdout: res.stdout ?? '', stderr: res.stderr ?? ''}
}

/** A temp dir removed when the test file ends (the shared helper, with this suite's prefix). */
export function tmpDir(prefix = 'beam-mesh-cli-'): string {
  return removedAtEnd(prefix)
}
