// Which inventory a command uses without -i: never the example for commands that touch hosts or edit the
// inventory; init falls back to the bundled example, found from the package, not from the current directory.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {EXAMPLE, mesh, tmpDir} from './_cli.js'

const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
const HOST_COMMANDS = [['plan'], ['apply', '--yes'], ['doctor'], ['remove', 'Host-B', '--yes'], ['rotate-keys', '--yes']]

describe('default inventory', () => {
  it('plan, apply, doctor, remove and rotate-keys without -i, $MESH_INVENTORY or ./mesh.yaml: exit 2, how to make one, example untouched', () => {
    const before = digest(EXAMPLE)
    const cwd = tmpDir()
    for (const args of HOST_COMMANDS) {
      const r = mesh(args, {cwd})
      assert.equal(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`)
      assert.match(r.stderr, /no inventory: no -i, no \$MESH_INVENTORY, and no mesh\.yaml in /, args[0])
      assert.match(r.stderr, /Fix: pass -i FILE, set MESH_INVENTORY=FILE, or create mesh\.yaml here \(start from the example: cp \S+example\.yaml mesh\.yaml/, args[0])
      const cp = /cp (\S+) mesh\.yaml/.exec(r.stderr)
      assert.ok(cp && existsSync(cp[1]), `the example the fix names exists: ${cp?.[1]}`)
    }
    const json = mesh(['plan', '--json'], {cwd})
    assert.equal(json.code, 2)
    assert.equal(JSON.parse(json.stdout).error.kind, 'UserError')
    assert.equal(digest(EXAMPLE), before, 'the bundled example was not edited')
    assert.equal(existsSync(join(cwd, '.mesh')), false, 'nothing written')
  })

  it('./mesh.yaml, then $MESH_INVENTORY, then -i: each wins over the one before', () => {
    const cwd = tmpDir()
    // Invalid inventories, so no command gets as far as SSH: the error names the file that was chosen.
    writeFileSync(join(cwd, 'mesh.yaml'), 'network: {}\nhosts: []\n')
    writeFileSync(join(cwd, 'env.yaml'), 'network: {}\nhosts: []\n')
    writeFileSync(join(cwd, 'flag.yaml'), 'network: {}\nhosts: []\n')
    const local = mesh(['doctor'], {cwd})
    assert.equal(local.code, 2, local.stderr)
    assert.match(local.stderr, new RegExp(`${join(cwd, 'mesh.yaml')}: \\d+ problems? in the inventory`))
    const env = mesh(['plan'], {cwd, env: {MESH_INVENTORY: join(cwd, 'env.yaml')}})
    assert.equal(env.code, 2, env.stderr)
    assert.match(env.stderr, /env\.yaml: \d+ problems? in the inventory/)
    const flag = mesh(['plan', '-i', 'flag.yaml'], {cwd, env: {MESH_INVENTORY: join(cwd, 'env.yaml')}})
    assert.equal(flag.code, 2, flag.stderr)
    assert.match(flag.stderr, /flag\.yaml: \d+ problems? in the inventory/)
  })

  it('init without an inventory uses the bundled example from any directory, says so, and writes into the current directory', () => {
    const cwd = tmpDir()
    const r = mesh(['init'], {cwd})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^inventory: the bundled example ${EXAMPLE.replace(/[.]/g, '\\.')} \\(no -i, no \\$MESH_INVENTORY, no mesh\\.yaml here\\); pass -i FILE for your own\\n3 hosts on wg0:`))
    assert.ok(existsSync(join(cwd, '.mesh', 'example', 'state.json')))
    assert.ok(existsSync(join(cwd, 'out', 'example', 'hosts.block')))
    const json = JSON.parse(mesh(['init', '--json'], {cwd}).stdout)
    assert.equal(json.inventorySource, 'example')
    assert.equal(json.inventory, EXAMPLE)
    // With a mesh.yaml here, init uses it and says nothing about the example.
    writeFileSync(join(cwd, 'mesh.yaml'), readFileSync(EXAMPLE))
    const own = mesh(['init'], {cwd})
    assert.equal(own.code, 0, own.stderr)
    assert.doesNotMatch(own.stdout, /bundled example/)
    assert.ok(existsSync(join(cwd, '.mesh', 'mesh', 'state.json')))
  })
})
