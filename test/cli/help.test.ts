// `mesh help`, `mesh help <command>` and shell completion, through the built CLI.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {ROOT, mesh, tmpDir} from './_cli.js'

interface ManifestFlag {
  type: 'boolean' | 'option'
  default?: unknown
  description?: string
}
const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, ManifestFlag>}>}
const ids = Object.keys(manifest.commands)

describe('mesh help', () => {
  it('lists every command and topic', () => {
    const r = mesh(['help'])
    assert.equal(r.code, 0, r.stderr)
    for (const c of ['init', 'plan', 'apply', 'doctor', 'remove', 'rotate-keys', 'lab', 'autocomplete']) assert.match(r.stdout, new RegExp(`^  ${c}\\s`, 'm'), c)
  })

  it('every command: help works both ways, lists exit codes, and number flags show their default and range', () => {
    assert.ok(ids.length >= 9, `manifest lists ${ids.length} commands`)
    for (const id of ids) {
      const words = id.split(':')
      const r = mesh(['help', ...words])
      assert.equal(r.code, 0, `${id}: ${r.stderr}`)
      assert.equal(mesh([...words, '--help']).stdout, r.stdout, `${id}: --help and help agree`)
      const exit = /\nEXIT CODES\n([\s\S]*?)(\n\n[A-Z]|$)/.exec(r.stdout)
      assert.ok(exit, `${id}: no EXIT CODES section`)
      assert.match(exit[1], /^ {2}0 +\S/m, `${id}: exit code 0 explained`)
      assert.match(exit[1], /^ {2}2 +\S/m, `${id}: exit code 2 explained`)
      for (const [name, flag] of Object.entries(manifest.commands[id].flags)) {
        if (flag.type !== 'option' || typeof flag.default !== 'number') continue
        // The flag's lines in FLAGS: oclif shows "[default: N]" except for 0, which the description then states.
        const block = new RegExp(`--${name}=<value>([\\s\\S]*?)(\\n {2,}-|\\n\\n)`).exec(r.stdout)?.[1] ?? ''
        assert.match(block.replace(/\s+/g, ' '), new RegExp(`default: ${flag.default}\\b`), `${id} --${name}: default shown`)
        assert.match(flag.description ?? '', /\d+-\d+/, `${id} --${name}: range shown`)
      }
    }
  })

  it('`mesh help <command>` for an unknown command fails with a clear message', () => {
    const r = mesh(['help', 'nosuch'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /nosuch/)
  })
})

describe('shell completion', () => {
  it('bash completes command names and flags from the cache `mesh autocomplete` builds', () => {
    const home = tmpDir()
    const env = {HOME: home, XDG_CACHE_HOME: home}
    const setup = mesh(['autocomplete', 'script', 'bash'], {env})
    assert.equal(setup.code, 0, setup.stderr)
    assert.match(setup.stdout, /MESH_AC_BASH_SETUP_PATH=\S+ && test -f/)
    const refresh = mesh(['autocomplete', '--refresh-cache'], {env})
    assert.equal(refresh.code, 0, refresh.stderr)
    // What the README tells people to put in ~/.bashrc, then what bash does on <Tab>.
    const script = `eval "$(node ${join(ROOT, 'bin', 'run.js')} autocomplete script bash)"
COMP_WORDS=(mesh rot); COMP_CWORD=1; _mesh_autocomplete; echo "1:\${COMPREPLY[*]}"
COMP_WORDS=(mesh plan --conc); COMP_CWORD=2; _mesh_autocomplete; echo "2:\${COMPREPLY[*]}"`
    const bash = spawnSync('bash', ['-c', script], {encoding: 'utf8', env: {...process.env, ...env}, timeout: 60_000})
    assert.equal(bash.status, 0, bash.stderr)
    assert.match(bash.stdout, /^1:rotate-keys$/m)
    assert.match(bash.stdout, /^2:--concurrency$/m)
  })
})
