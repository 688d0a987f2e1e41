// Shared by the unit tests: temp dirs that are always removed, and a valid inventory to mutate.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after} from 'node:test'
import {stringify} from 'yaml'

const made: string[] = []
after(() => {
  for (const d of made) rmSync(d, {recursive: true, force: true})
})

/** A fresh 0700 temp dir, removed when the test file ends. */
export function tmpDir(prefix = 'beam-mesh-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  made.push(d)
  return d
}

export interface RawInventory {
  network: Record<string, unknown>
  beam?: Record<string, unknown>
  ssh?: Record<string, unknown>
  hosts: Record<string, unknown>[]
}

export function baseInventory(hosts = 3): RawInventory {
  return {
    network: {interface: 'wg0', ipv4: '10.77.0.0/24', ipv6: 'fd77:77::/64', listenPort: 51820},
    beam: {nodeBasename: 'app', naming: 'sname'},
    ssh: {user: 'root'},
    hosts: Array.from({length: hosts}, (_, i) => ({name: `Host-${String.fromCharCode(65 + i)}`, endpoint: `198.18.0.${10 + i}`})),
  }
}

export const toYaml = (inv: unknown) => stringify(inv)
