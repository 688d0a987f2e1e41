// Files the CLI must refuse or never print, through the built CLI: non-regular inventories and keys, a broken
// state.json, and the BEAM cookie in init's output.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {isCookie} from '../../src/core/beam.js'
import {baseInventory, toYaml} from '../support/helpers.js'
import {mesh, tmpDir} from './_cli.js'

const mkfifo = (path: string) => assert.equal(spawnSync('mkfifo', [path]).status, 0, 'mkfifo')

describe('files that are not regular files, through the real CLI', () => {
  it('an inventory that is a FIFO, a directory or a link to /dev/zero, and a key that is a FIFO, each exit 2 naming the path', () => {
    const dir = tmpDir()
    const fifo = join(dir, 'fifo.yaml')
    mkfifo(fifo)
    const asDir = join(dir, 'dir.yaml')
    mkdirSync(asDir)
    const zero = join(dir, 'zero.yaml')
    symlinkSync('/dev/zero', zero)
    const good = join(dir, 'good.yaml')
    writeFileSync(good, toYaml(baseInventory(2)))
    const state = join(dir, 'state')
    mkdirSync(join(state, 'keys'), {recursive: true, mode: 0o700})
    chmodSync(state, 0o700)
    mkfifo(join(state, 'keys', 'Host-A.key'))
    chmodSync(join(state, 'keys', 'Host-A.key'), 0o600)

    const cases: [string[], string, RegExp][] = [
      [['init', '-i', fifo, '--state', join(dir, 's1'), '--out', join(dir, 'o1')], fifo, /FIFO/],
      [['init', '-i', asDir, '--state', join(dir, 's2'), '--out', join(dir, 'o2')], asDir, /directory/],
      [['init', '-i', zero, '--state', join(dir, 's3'), '--out', join(dir, 'o3')], zero, /device/],
      [['init', '-i', good, '--state', state, '--out', join(dir, 'o4')], join(state, 'keys', 'Host-A.key'), /FIFO/],
    ]
    const runs = cases.map(([args]) => mesh(args))
    runs.forEach((r, i) => {
      const [, path, kind] = cases[i]
      assert.equal(r.code, 2, `${path}: exit ${r.code}\n${r.stderr}`)
      assert.ok(r.stderr.includes(path), `${path} not named:\n${r.stderr}`)
      assert.match(r.stderr, kind)
      assert.doesNotMatch(r.stderr, /EISDIR|\n\s+at /)
    })
  })
})

describe('state.json through the CLI', () => {
  it('through the real CLI: init on a state.json whose archived is a string exits 2 with the field, no stack trace', () => {
    const dir = tmpDir()
    const inv = join(dir, 'inv.yaml')
    writeFileSync(inv, toYaml(baseInventory(2)))
    const state = join(dir, 'state')
    mkdirSync(state, {mode: 0o700})
    writeFileSync(join(state, 'state.json'), JSON.stringify({version: 1, hosts: {}, archived: 'oops'}), {mode: 0o600})
    const run = mesh(['init', '-i', inv, '--state', state, '--out', join(dir, 'out')])
    assert.equal(run.code, 2, run.stderr)
    assert.match(run.stderr, /archived: /)
    assert.match(run.stderr, /Fix: restore/)
    assert.doesNotMatch(run.stderr, /TypeError|\n\s+at /)
  })
})

describe('the BEAM cookie through the CLI', () => {
  it('`mesh init` and `mesh init --json` never print the cookie', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'inv.yaml'), toYaml(baseInventory()))
    const cli = (...args: string[]) => mesh(['init', '-i', join(dir, 'inv.yaml'), ...args], {cwd: dir})
    const json = cli('--json')
    assert.equal(json.code, 0, json.stderr)
    const cookie = readFileSync(join(dir, '.mesh', 'inv', 'secrets', 'cookie'), 'utf8').trim()
    assert.ok(isCookie(cookie))
    const parsed = JSON.parse(json.stdout) as {written: string[]}
    assert.ok(parsed.written.some((p) => p.endsWith('/Host-A/vm.args')))
    const human = cli()
    assert.equal(human.code, 0, human.stderr)
    for (const out of [json.stdout, json.stderr, human.stdout, human.stderr]) assert.ok(!out.includes(cookie), 'cookie printed')
  })
})
