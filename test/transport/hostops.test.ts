// The remote shell snippets, run for real with the local shell against files in a temp dir.
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
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

  it('names a plain file that holds the expected bytes instead of sending it; everything else is sent whole', async () => {
    const dir = tmpDir()
    const odd = Buffer.from([0x41, 0xe9, 0x0a, 0x00, 0x5c]).toString('latin1')
    const paths = {
      same: join(dir, 'same.conf'),
      other: join(dir, 'other.conf'),
      spaced: join(dir, 'with space *.conf'),
      link: join(dir, 'link.conf'),
      torn: join(dir, 'torn.conf'),
      unexpected: join(dir, 'no-expectation.conf'),
      absent: join(dir, 'absent.conf'),
    }
    writeFileSync(paths.same, odd, 'latin1')
    writeFileSync(paths.other, 'on the host\n')
    writeFileSync(paths.spaced, 'spaced\n')
    writeFileSync(join(dir, 'target.conf'), 'linked\n')
    symlinkSync(join(dir, 'target.conf'), paths.link)
    writeFileSync(paths.torn, 'torn\n')
    // Something left beside it by an interrupted in-place write: its sum may not stand for what the plan starts from.
    writeFileSync(`${paths.torn}.mesh-inplace-1-2.bak`, 'torn\n')
    writeFileSync(paths.unexpected, 'x\n')
    const expected = new Map([
      [paths.same, odd],
      [paths.other, 'what the CLI wants\n'],
      [paths.spaced, 'spaced\n'],
      [paths.link, 'linked\n'],
      [paths.torn, 'torn\n'],
      [paths.absent, 'never written\n'],
    ])
    const seen: string[] = []
    class Spy extends LocalTransport {
      override async run(argv: readonly string[], o = {}) {
        const r = await super.run(argv, o)
        seen.push(r.stdout)
        return r
      }
    }
    const facts = await new RemoteHost(new Spy('spy'), 'bmtest0').facts(Object.values(paths), {expected})
    const out = seen.join('')
    assert.match(out, new RegExp(`@@beam-mesh same ${paths.same}\n`))
    assert.match(out, /@@beam-mesh same .*with space \*\.conf\n/)
    for (const p of [paths.other, paths.link, paths.torn, paths.unexpected]) assert.match(out, new RegExp(`@@beam-mesh file ${p.replace(/[.*]/g, '\\$&')}\n`), p)
    assert.equal(facts.files.get(paths.same), odd)
    assert.equal(facts.files.get(paths.other), 'on the host\n')
    assert.equal(facts.files.get(paths.spaced), 'spaced\n')
    assert.equal(facts.files.get(paths.link), 'linked\n')
    assert.equal(facts.files.get(paths.torn), 'torn\n')
    assert.equal(facts.files.get(paths.unexpected), 'x\n')
    assert.equal(facts.files.get(paths.absent), null)
    assert.deepEqual(facts.meta?.get(paths.same)?.mode, statSync(paths.same).mode & 0o777)
  })
})

describe('RemoteHost.facts of a running interface', () => {
  // The fake wg answers for `lo`: the facts ask wg only about an interface /sys/class/net shows (every Linux has lo).
  const fakeWg = (dump: string[]) => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'wg'), `#!/bin/sh\necho "$*" >> '${join(dir, 'calls')}'\n[ "$1 $2 $3" = "show lo dump" ] || exit 1\nprintf '%s\\n' ${dump.map((l) => `'${l}'`).join(' ')}\n`, {mode: 0o755})
    return dir
  }

  it('reads peers, keepalives and the port from one dump; its private and preshared keys never come back', async () => {
    const dir = fakeWg(['PRIVATE-KEY-SECRET\tPUB-SELF\t51820\toff', 'PEER-ONE\tPRESHARED-SECRET\t192.0.2.1:51820\t10.9.0.2/32,fd00::2/128\t0\t0\t0\t25', 'PEER-TWO\t(none)\t(none)\t(none)\t0\t0\t0\toff'])
    const seen: string[] = []
    class Spy extends LocalTransport {
      override async run(argv: readonly string[], o = {}) {
        const r = await super.run(argv, o)
        seen.push(r.stdout, r.stderr)
        return r
      }
    }
    const facts = await new RemoteHost(new Spy('spy', ['env', `PATH=${dir}:${process.env.PATH}`]), 'lo').facts([])
    assert.deepEqual(facts.running, [
      {publicKey: 'PEER-ONE', allowedIps: ['10.9.0.2/32', 'fd00::2/128'], keepalive: 25},
      {publicKey: 'PEER-TWO', allowedIps: [], keepalive: 0},
    ])
    assert.equal(facts.runningListenPort, 51820)
    assert.doesNotMatch(seen.join(''), /SECRET/)
  })

  it('an interface /sys/class/net does not show is down without asking wg (a fresh host starts fewer programs)', async () => {
    const dir = fakeWg(['PRIVATE-KEY-SECRET\tPUB-SELF\t51820\toff'])
    const facts = await new RemoteHost(new LocalTransport('local', ['env', `PATH=${dir}:${process.env.PATH}`]), 'bmtest0').facts([])
    assert.equal(facts.running, null)
    assert.ok(!existsSync(join(dir, 'calls')), 'wg was not started')
  })
})

describe('RemoteHost: the first sessions of a fresh interface', () => {
  // Fake wg and wg-quick: every call is recorded; the strip is a config with a private key and two peers.
  const fakeTools = (handshakes: string) => {
    const dir = tmpDir()
    const calls = join(dir, 'calls')
    writeFileSync(join(dir, 'wg'), `#!/bin/sh\necho "wg $*" >> '${calls}'\ncase "$1 $3" in\n  "show latest-handshakes") printf '${handshakes}' ;;\n  "syncconf "*) [ -s "$3" ] || exit 9 ;;\nesac\n`, {mode: 0o755})
    writeFileSync(join(dir, 'wg-quick'), `#!/bin/sh\necho "wg-quick $*" >> '${calls}'\nprintf '[Interface]\\nPrivateKey = x\\n[Peer]\\nPublicKey = a\\n[Peer]\\nPublicKey = b\\n'\n`, {mode: 0o755})
    return {host: new RemoteHost(new LocalTransport('local', ['env', `PATH=${dir}:${process.env.PATH}`]), 'wgfake0'), calls: () => readFileSync(calls, 'utf8').trim().split('\n')}
  }
  const [K1, K2] = ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=']

  it('restartHandshakes drops the named peers, then adds every peer back from a checked strip', {skip: existsSync('/etc/wireguard') ? false : 'no /etc/wireguard (wireguard-tools not installed)'}, async () => {
    const {host, calls} = fakeTools('')
    await host.restartHandshakes([K1, K2], 2)
    const seen = calls()
    assert.deepEqual(seen.slice(0, 4), ['wg-quick strip wgfake0', `wg set wgfake0 peer ${K1} remove`, `wg set wgfake0 peer ${K2} remove`, seen[3]])
    assert.match(seen[3], /^wg syncconf wgfake0 \/etc\/wireguard\/\.mesh-strip-/)
    assert.equal(seen.length, 4)
    assert.ok(!existsSync(seen[3].split(' ')[3]), 'the stripped copy is removed')
    // A strip that does not hold the peers the config should have: nothing is dropped.
    const other = fakeTools('')
    await assert.rejects(other.host.restartHandshakes([K1], 3), /stripped config has 2 peers, expected 3/)
    assert.deepEqual(other.calls(), ['wg-quick strip wgfake0'])
  })

  it('latestHandshakes reads one line per peer; a down interface or another answer is null', async () => {
    const {host} = fakeTools(`${K1}\\t1700000000\\n${K2}\\t0\\n`)
    assert.deepEqual([...(await host.latestHandshakes())!], [[K1, 1700000000], [K2, 0]])
    assert.equal(await fakeTools('garbage\\n').host.latestHandshakes(), null)
    assert.equal(await new RemoteHost(new LocalTransport('local', ['env', `PATH=${tmpDir()}`]), 'wgfake0').latestHandshakes(), null, 'no wg at all')
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
