// The in-place write (a bind-mounted file: rename gives EBUSY) under faults, run for real with the local shell in a
// private mount namespace: a full disk (with and without fallocate), the write script SIGKILLed between its two
// steps. The file always ends old or new: at once, or after the next facts/write repairs it from the backup.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {RemoteHost} from '../../src/remote/hostops.js'
import {LocalTransport} from '../support/local-transport.js'
import {tmpDir} from '../support/helpers.js'
import {skipUnless} from '../support/prereq.js'

const isRoot = process.getuid?.() === 0
const skip = skipUnless(isRoot, 'needs root for mounts in a private namespace')

/** A process holding a private mount namespace; commands run in it through nsenter. */
let holder: ReturnType<typeof spawn> | undefined
const ns = (argv: string[]) => {
  const r = spawnSync('nsenter', ['-t', String(holder!.pid), '-m', '--', ...argv], {encoding: 'utf8'})
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`)
  return r.stdout
}
const host = () => new RemoteHost(new LocalTransport('ns', ['nsenter', '-t', String(holder!.pid), '-m', '--']), 'bmtest0')

before(() => {
  if (skip) return
  holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '600'], {stdio: 'ignore'})
  // Wait (bounded) until the namespace differs from ours.
  const mine = spawnSync('readlink', ['/proc/self/ns/mnt'], {encoding: 'utf8'}).stdout
  for (let i = 0; i < 200 && spawnSync('readlink', [`/proc/${holder.pid}/ns/mnt`], {encoding: 'utf8'}).stdout === mine; i++) spawnSync('sleep', ['0.05'])
})
after(() => holder?.kill('SIGKILL'))

/** A file on its own small tmpfs, bind-mounted over `target` (in the namespace): rename onto it gives EBUSY. */
function boundFile(content: string, tmpfsKb = 16): {target: string; dir: string; fs: string} {
  const dir = tmpDir()
  const fs = join(dir, 'fs')
  const target = join(dir, 'hosts')
  writeFileSync(target, '')
  ns(['sh', '-c', 'mkdir -p "$1" && mount -t tmpfs -o size="$2"k tmpfs "$1" && cat > "$1/file" && mount --bind "$1/file" "$3"', 'sh', fs, String(tmpfsKb), target].concat([]))
  ns(['sh', '-c', 'printf %s "$2" > "$1"', 'sh', target, content])
  return {target, dir, fs}
}
const read = (path: string) => ns(['cat', '--', path])
/** Backup and journal files (a SIGKILLed script also leaves its temp file: no trap runs; that one is harmless). */
const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.includes('.mesh-inplace'))
/** Fills the tmpfs up (dd stops at ENOSPC). */
const fill = (fs: string) => spawnSync('nsenter', ['-t', String(holder!.pid), '-m', '--', 'dd', 'if=/dev/zero', `of=${fs}/fill`, 'bs=4096'], {encoding: 'utf8'})
/** Replaces a program in the namespace by a script (bind mount over it). */
function wrap(program: string, script: string): void {
  const file = join(tmpDir(), 'wrapper.sh')
  writeFileSync(file, `#!/bin/sh\n${script}\n`, {mode: 0o755})
  ns(['mount', '--bind', file, program])
}
const unwrap = (program: string) => ns(['umount', program])

const OLD = `127.0.0.1 localhost\n${'# padding line of the old file\n'.repeat(130)}` // ~4 KB: one tmpfs page
const NEW = `127.0.0.1 localhost\n${'# the new file, longer than one page\n'.repeat(140)}` // ~5 KB: needs a second page

describe('in-place write under ENOSPC', {skip}, () => {
  it('reserves the space first: a full disk refuses the write before any byte changes', async () => {
    const f = boundFile(OLD)
    fill(f.fs)
    await assert.rejects(host().writeFile(f.target, NEW, 0o644), /no space left on the device of .*hosts.*nothing was written/)
    assert.equal(read(f.target), OLD)
    assert.deepEqual(readdirSync(f.dir).filter((n) => n.includes('.mesh-')), [], 'no temp file, backup or journal left')
  })

  it('without fallocate, ENOSPC midway puts the old bytes back (never a short file)', async () => {
    const f = boundFile(OLD)
    fill(f.fs)
    wrap('/usr/bin/fallocate', 'echo "fallocate: Operation not supported" >&2; exit 1')
    try {
      await assert.rejects(host().writeFile(f.target, NEW, 0o644), /writing .*hosts in place failed .*: its previous bytes were put back/s)
    } finally {
      unwrap('/usr/bin/fallocate')
    }
    assert.equal(read(f.target), OLD)
    assert.deepEqual(leftovers(f.dir), [])
  })
})

describe('in-place write killed midway', {skip}, () => {
  it('leaves a journal; facts report the old bytes without touching the file, then repair it; the next write lands', async () => {
    const f = boundFile(NEW)
    const shorter = OLD
    // The write script dies (SIGKILL) between writing the new bytes and cutting the file to their length.
    wrap('/usr/bin/truncate', 'kill -9 $PPID; exit 1')
    try {
      await assert.rejects(host().writeFile(f.target, shorter, 0o644))
    } finally {
      unwrap('/usr/bin/truncate')
    }
    const torn = read(f.target)
    assert.ok(torn !== NEW && torn !== shorter && torn.startsWith(shorter), 'the kill left a mix (new bytes, old tail)')
    assert.ok(leftovers(f.dir).some((n) => n.endsWith('.journal')), `journal kept: ${leftovers(f.dir).join(',')}`)

    const checked = await host().facts([f.target])
    assert.ok(checked.files.get(f.target) === NEW, 'a preview sees the bytes it will start from')
    assert.deepEqual(checked.torn, [f.target])
    assert.ok(read(f.target) === torn, 'a preview changes nothing')

    const repaired = await host().facts([f.target], {repair: true})
    assert.ok(repaired.files.get(f.target) === NEW)
    assert.equal(repaired.torn, undefined)
    assert.ok(read(f.target) === NEW, 'old bytes back')
    assert.deepEqual(leftovers(f.dir), [])

    assert.equal(await host().writeFile(f.target, shorter, 0o644), 'inplace')
    assert.equal(read(f.target), shorter)
  })

  it('a write to a torn file repairs it first, then writes', async () => {
    const f = boundFile(NEW)
    wrap('/usr/bin/truncate', 'kill -9 $PPID; exit 1')
    try {
      await assert.rejects(host().writeFile(f.target, OLD, 0o644))
    } finally {
      unwrap('/usr/bin/truncate')
    }
    // The rollback's write of the old bytes, as apply does it.
    assert.equal(await host().writeFile(f.target, NEW, 0o644), 'inplace')
    assert.equal(read(f.target), NEW)
    assert.deepEqual(leftovers(f.dir), [])
  })
})

describe('write verification', () => {
  it('refuses a reply whose sha256 is not the content\'s', async () => {
    const liar = new LocalTransport('liar')
    const t = {...liar, name: 'liar', run: async () => ({code: 0, stdout: 'renamed 00\n', stderr: ''}), openTcp: (h: string, p: number) => liar.openTcp(h, p), close: () => liar.close()}
    await assert.rejects(new RemoteHost(t, 'wg0').writeFile('/nonexistent/x', 'data\n', 0o644), /does not hold the bytes written/)
  })
})

describe('symlinked targets', () => {
  it('writes through a symlink to its target and keeps the link; facts say where it points', async () => {
    const dir = tmpDir()
    const real = join(dir, 'hosts.real')
    const link = join(dir, 'hosts')
    writeFileSync(real, 'old\n')
    spawnSync('ln', ['-s', 'hosts.real', link])
    const local = new RemoteHost(new LocalTransport('local'), 'bmtest0')
    assert.equal(await local.writeFile(link, 'new\n', 0o644), 'renamed')
    assert.equal(readFileSync(real, 'utf8'), 'new\n')
    assert.equal(spawnSync('readlink', [link], {encoding: 'utf8'}).stdout.trim(), 'hosts.real', 'still a link')
    const facts = await local.facts([link])
    assert.equal(facts.links?.get(link), real)
    assert.equal(facts.files.get(link), 'new\n')
  })

  it('refuses a dangling symlink with the path and the fix', async () => {
    const dir = tmpDir()
    const link = join(dir, 'hosts')
    spawnSync('ln', ['-s', join(dir, 'missing'), link])
    const local = new RemoteHost(new LocalTransport('local'), 'bmtest0')
    await assert.rejects(local.writeFile(link, 'new\n', 0o644), /hosts is a symlink to .*missing, which is not an existing regular file: point the link/)
    assert.equal(spawnSync('readlink', [link], {encoding: 'utf8'}).stdout.trim(), join(dir, 'missing'))
  })
})
