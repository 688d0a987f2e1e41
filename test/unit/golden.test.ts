// Rendered wg-quick configs, the hosts block and state.json compared byte for byte with committed files.
// Fixed keys live in the fixture. UPDATE_GOLDEN=1 rewrites the expected files (review the diff!).
import assert from 'node:assert/strict'
import {chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {runInit} from '../../src/services/init.js'
import {tmpDir} from '../support/helpers.js'

const GOLDEN = fileURLToPath(new URL('../fixtures/golden/', import.meta.url))
const update = process.env.UPDATE_GOLDEN === '1'
// CI compares, never rewrites: a golden update there would turn any regression into a pass.
if (update && process.env.CI) throw new Error('UPDATE_GOLDEN=1 is refused under CI: update golden files locally and review the diff')

function filesUnder(dir: string): string[] {
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

/** Copies the fixture's inventory and keys to a temp dir with the modes the store demands. */
function stage(name: string) {
  const src = join(GOLDEN, name)
  const dir = tmpDir()
  const stateDir = join(dir, 'state')
  cpSync(join(src, 'inventory.yaml'), join(dir, 'inventory.yaml'))
  mkdirSync(stateDir, {mode: 0o700})
  for (const sub of ['keys', 'secrets']) {
    if (!existsSync(join(src, sub))) continue
    cpSync(join(src, sub), join(stateDir, sub), {recursive: true})
    chmodSync(join(stateDir, sub), 0o700)
    for (const f of readdirSync(join(stateDir, sub))) chmodSync(join(stateDir, sub, f), 0o600)
  }
  return {src, dir, stateDir, outDir: join(dir, 'out')}
}

for (const name of ['full', 'v4only']) {
  describe(`golden: ${name}`, () => {
    it('renders every host\'s wg-quick config, the hosts block and state.json byte for byte', () => {
      const {src, dir, stateDir, outDir} = stage(name)
      const result = runInit({inventoryFile: join(dir, 'inventory.yaml'), stateDir, outDir})
      assert.deepEqual(result.createdKeys, [], 'the fixture provides every key')
      // Only what this suite owns: wg-quick configs and the hosts block (BEAM artifacts have their own tests).
      const ours = filesUnder(outDir).filter((f) => f.endsWith('.conf') || f === 'hosts.block')
      const actual = new Map(ours.map((f) => [f, readFileSync(join(outDir, f), 'utf8')]))
      actual.set('state.json', readFileSync(join(stateDir, 'state.json'), 'utf8'))
      const expectedDir = join(src, 'expected')
      if (update) {
        rmSync(expectedDir, {recursive: true, force: true})
        for (const [f, content] of actual) {
          mkdirSync(join(expectedDir, f, '..'), {recursive: true})
          writeFileSync(join(expectedDir, f), content)
        }
      }
      assert.ok(existsSync(expectedDir), `no golden files in ${expectedDir}: run UPDATE_GOLDEN=1 once and review them`)
      assert.deepEqual([...actual.keys()].sort(), filesUnder(expectedDir), 'the same set of files')
      for (const [f, content] of actual) assert.equal(content, readFileSync(join(expectedDir, f), 'utf8'), `${f} differs from the golden file`)
    })
    it('a second run over the same state writes nothing', () => {
      const {dir, stateDir, outDir} = stage(name)
      runInit({inventoryFile: join(dir, 'inventory.yaml'), stateDir, outDir})
      assert.deepEqual(runInit({inventoryFile: join(dir, 'inventory.yaml'), stateDir, outDir}).written, [])
    })
  })
}
