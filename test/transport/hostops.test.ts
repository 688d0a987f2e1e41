// The remote shell snippets, run for real with the local shell against files in a temp dir.
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {describe, it} from 'node:test'

import {RemoteHost} from '../../src/remote/hostops.js'
import {LocalTransport} from '../support/local-transport.js'
import {tmpDir} from '../support/helpers.js'
import {skipUnless} from '../support/prereq.js'

const host = new RemoteHost(new LocalTransport('local'), 'bmtest0')
const isRoot = process.getuid?.() === 0

describe('RemoteHost.writeFile', () => {
  it('writes through a temp file and rename, with the mode asked for, creating a 0700 dir', async () => {
    const dir = join(tmpDir(), 'wireguard')
    const path = join(dir, 'wg0.conf')
    assert.equal(await host.writeFile(path, 'PrivateKey = x\n', 0o600), 'renamed')
    assert.equal(readFileSync(path, 'utf8'), 'PrivateKey = x\n')
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
  })

  it('keeps every byte, including invalid UTF-8', async () => {
    const path = join(tmpDir(), 'hosts')
    const bytes = Buffer.from([0x31, 0x20, 0xe9, 0xff, 0x0d, 0x0a, 0x00, 0x41])
    await host.writeFile(path, bytes.toString('latin1'), 0o644)
    assert.deepEqual(readFileSync(path), bytes)
  })

  it('falls back to an in-place write when rename gives EBUSY (bind-mounted file)', {skip: skipUnless(isRoot, 'needs root for a bind mount')}, () => {
    const dir = tmpDir()
    const target = join(dir, 'hosts')
    const source = join(dir, 'hosts.src')
    writeFileSync(target, 'old\n')
    writeFileSync(source, '127.0.0.1 localhost\n')
    // In a private mount namespace: bind-mount a file over `target`, then write through the script.
    const script = `mount --bind ${source} ${target} && node --import tsx -e "
      const {RemoteHost} = await import('./src/remote/hostops.ts');
      const {LocalTransport} = await import('./test/support/local-transport.ts');
      const how = await new RemoteHost(new LocalTransport('l'), 'x').writeFile('${target}', 'new content\\\\n', 0o644);
      console.log(how)"`
    const out = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {encoding: 'utf8'})
    assert.equal(out.trim(), 'inplace')
    // The bind mount wrote through to its source file.
    assert.equal(readFileSync(source, 'utf8'), 'new content\n')
  })
})

describe('RemoteHost.writeFile with an owner', () => {
  const nobody = Number(spawnSync('id', ['-u', 'nobody'], {encoding: 'utf8'}).stdout.trim())

  it('gives the file to the user before the rename (0400), and facts report owner and mode', {skip: skipUnless(isRoot, 'needs root to chown')}, async () => {
    const path = join(tmpDir(), 'beam-mesh', 'cookie')
    assert.equal(await host.writeFile(path, 'secret\n', 0o400, 'nobody'), 'renamed')
    assert.deepEqual([statSync(path).uid, statSync(path).gid, statSync(path).mode & 0o777], [nobody, 0, 0o400])
    assert.equal(statSync(dirname(path)).mode & 0o777, 0o711, 'the user can traverse the directory, nobody can list it')
    const facts = await host.facts([path])
    assert.deepEqual(facts.meta?.get(path), {owner: 'nobody', mode: 0o400})
    // Without an owner the file goes back to root.
    await host.writeFile(path, 'secret\n', 0o600)
    assert.deepEqual([statSync(path).uid, statSync(path).mode & 0o777], [0, 0o600])
    assert.deepEqual((await host.facts([path])).meta?.get(path), {owner: 'root', mode: 0o600})
  })

  it('fails with a clear error, writing nothing, when the user does not exist', async () => {
    const dir = tmpDir()
    const path = join(dir, 'cookie')
    writeFileSync(path, 'old\n')
    await assert.rejects(host.writeFile(path, 'new\n', 0o400, 'no-such-user-bm'), /write .*cookie \(owner no-such-user-bm\).*user no-such-user-bm does not exist on this host/s)
    assert.equal(readFileSync(path, 'utf8'), 'old\n')
    assert.deepEqual(readdirSync(dir), ['cookie'], 'no temp file left behind')
  })
})

describe('RemoteHost.facts', () => {
  it('reads managed files byte for byte and reports a missing interface as down', async () => {
    const dir = tmpDir()
    const present = join(dir, 'present.conf')
    writeFileSync(present, Buffer.from([0x41, 0xe9, 0x0a]))
    const facts = await host.facts([present, join(dir, 'absent.conf')])
    assert.deepEqual(Buffer.from(facts.files.get(present)!, 'latin1'), Buffer.from([0x41, 0xe9, 0x0a]))
    assert.equal(facts.files.get(join(dir, 'absent.conf')), null)
    assert.equal(facts.running, null)
    assert.deepEqual(Buffer.from(facts.hosts, 'latin1'), readFileSync('/etc/hosts'))
  })
})

describe('RemoteHost errors', () => {
  it('names the command, exit status and stderr', async () => {
    const hasWg = spawnSync('sh', ['-c', 'command -v wg-quick']).status === 0
    await assert.rejects(host.run(['sh', '-c', 'echo boom >&2; exit 7']), (e: Error) => {
      assert.match(e.message, /local: `sh -c 'echo boom >&2; exit 7'` exited with 7: boom/)
      return true
    })
    if (hasWg) await assert.rejects(host.syncconf(2), /syncconf bmtest0/)
  })
})
