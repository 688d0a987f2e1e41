// Helpers of the BEAM artifact tests: meshes from raw inventories, and a network
// namespace sandbox whose processes are all ours (killed by pid, then the namespace is deleted).
import {execFileSync, spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {beamExtraFiles} from '../../src/core/beam.js'
import {parseInventory} from '../../src/core/inventory.js'
import {HostAssignment, Mesh, MeshHost, buildMesh} from '../../src/core/model.js'
import {RawInventory, toYaml} from './helpers.js'


/** A mesh with hosts numbered from 1: 10.77.0.<n> and fd77:77::<n> (when the family is on). */
export function meshOf(raw: RawInventory): Mesh {
  const inv = parseInventory(toYaml(raw), 'test.yaml')
  const a = new Map<string, HostAssignment>(
    inv.hosts.map((h, i) => [h.name, {ipv4: inv.network.ipv4 && `10.77.0.${i + 1}`, ipv6: inv.network.ipv6 && `fd77:77::${i + 1}`, publicKey: 'unused'}]),
  )
  return buildMesh(inv, a)
}

/** path -> content of one host's BEAM files. */
export function filesOf(mesh: Mesh, host: MeshHost, cookie: string): Record<string, string> {
  return Object.fromEntries(beamExtraFiles(mesh, cookie)(host).map((f) => [f.path, f.content]))
}

export function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? allFiles(join(dir, e)) : [join(dir, e)]))
}

export const isRoot = () => process.getuid?.() === 0
export const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

/** Skip with a loud reason, except in CI where a missing prerequisite is a failure. */
export function requireOrSkip(t: {skip: (m: string) => void}, ok: boolean, why: string): boolean {
  if (ok) return true
  if (process.env.CI) throw new Error(`CI: ${why}`)
  t.skip(`SKIPPED: ${why}`)
  console.error(`# SKIPPED: ${why}`)
  return false
}

/** A fresh network namespace with only lo (up): no traffic can leave it. */
export function netnsCreate(tag: string): string {
  const ns = `bm-${tag}-${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  return ns
}

/** Kill every process left in our namespace (all started by this test, e.g. an epmd), then delete it. */
export function netnsDestroy(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], {encoding: 'utf8'}).stdout.split(/\s+/).filter(Boolean)
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns])
}
