// Trust only files we own: secrets and their folders must be ours (or root's), private, and the thing
// itself (not a link); files we read (inventory, state, keys, known_hosts) must be regular files, read
// with a bound. A FIFO, a device or a directory exits 2 naming the path, instead of hanging or EISDIR.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {UserError} from '../../src/core/errors.js'
import {generatePrivateKey} from '../../src/core/wgkeys.js'
import {loadKnownHosts} from '../../src/remote/host-keys.js'
import {StateStore} from '../../src/state/store.js'
import {baseInventory, tmpDir, toYaml} from './_helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const asRoot = process.getuid?.() === 0
const NOBODY = 65534

function mesh(args: string[]): Promise<{code: number | null; stderr: string; stdout: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {env: {...process.env, NO_COLOR: '1'}})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    // A hang is the bug this guards against: bounded generously for a loaded machine, then killed.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('error', reject)
    child.on('close', (code) => (clearTimeout(timer), resolve({code, stdout, stderr})))
  })
}

const mkfifo = (path: string) => assert.equal(spawnSync('mkfifo', [path]).status, 0, 'mkfifo')

function freshStore(): StateStore {
  const store = new StateStore(join(tmpDir(), 'state'))
  store.secret(store.keyFile('Host-A'), generatePrivateKey)
  return store
}

describe('secrets must be ours, private and the file itself', () => {
  it('a state dir owned by another user is refused, even with mode 0700', {skip: !asRoot && 'needs root to chown'}, () => {
    const store = freshStore()
    chownSync(store.dir, NOBODY, NOBODY)
    assert.throws(() => store.checkModes(), (e: unknown) => e instanceof UserError && /owned by uid 65534/.test(e.message) && e.exitCode === 2)
  })

  it('a key planted by another user (0600, theirs) is refused, not deployed', {skip: !asRoot && 'needs root to chown'}, () => {
    const store = freshStore()
    chownSync(store.keyFile('Host-A'), NOBODY, NOBODY)
    assert.throws(() => store.readSecret(store.keyFile('Host-A')), /owned by uid 65534/)
  })

  it('a symlinked key is refused, and the hint never suggests a chmod (which would act on the target)', () => {
    const store = freshStore()
    const elsewhere = join(tmpDir(), 'target.key')
    writeFileSync(elsewhere, `${generatePrivateKey()}\n`, {mode: 0o644})
    symlinkSync(elsewhere, store.keyFile('Host-B'))
    assert.throws(
      () => store.readSecret(store.keyFile('Host-B')),
      (e: unknown) => e instanceof UserError && /symbolic link/.test(e.message) && !/chmod/.test(e.fix ?? '') && /rm .*Host-B\.key/.test(e.fix ?? ''),
    )
    const linkedDir = join(tmpDir(), 'linked-state')
    symlinkSync(store.dir, linkedDir)
    assert.throws(() => new StateStore(linkedDir).checkModes(), (e: unknown) => e instanceof UserError && /symbolic link/.test(e.message) && !/chmod/.test(e.fix ?? ''))
  })

  it('a known_hosts file that is a FIFO is refused at once, naming it', async () => {
    const fifo = join(tmpDir(), 'known_hosts')
    mkfifo(fifo)
    await assert.rejects(loadKnownHosts([fifo]), (e: unknown) => e instanceof UserError && e.message.includes(fifo) && /FIFO/.test(e.message))
  })
})

describe('files that are not regular files, through the real CLI', () => {
  it('an inventory that is a FIFO, a directory or a link to /dev/zero, and a key that is a FIFO, each exit 2 naming the path', async () => {
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
    const runs = await Promise.all(cases.map(([args]) => mesh(args)))
    runs.forEach((r, i) => {
      const [, path, kind] = cases[i]
      assert.equal(r.code, 2, `${path}: exit ${r.code}\n${r.stderr}`)
      assert.ok(r.stderr.includes(path), `${path} not named:\n${r.stderr}`)
      assert.match(r.stderr, kind)
      assert.doesNotMatch(r.stderr, /EISDIR|\n\s+at /)
    })
  })
})
