import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {createServer, connect as netConnect} from 'node:net'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {ConnectionError, ExternalCommandError, UserError} from '../../src/core/errors.js'
import {CommandTimeoutError, SudoPasswordError, assertOk, clientConfig, coalesceWrites, connect} from '../../src/remote/ssh.js'
import type {ConnectOptions} from '../../src/remote/ssh.js'
import {commandLine} from '../../src/remote/transport.js'
import type {Transport} from '../../src/remote/transport.js'
import {fingerprintSha256} from '../../src/remote/known-hosts.js'
import {KeyPair, TestServer, killed, knownLine, newKeyPair, scratchHome, shellExec, startEcho, startServer} from './harness.js'

const clientKey = newKeyPair()
const home = scratchHome(clientKey)
let srv: TestServer
let echo: Awaited<ReturnType<typeof startEcho>>
const open: Transport[] = []

const opts = (extra: Partial<ConnectOptions> = {}): ConnectOptions => ({
  name: 'host-a', home: home.home, agentSocket: null, globalKnownHostsFile: null, identityFile: home.keyFile, connectTimeoutSeconds: 5, ...extra,
})
const target = (port = srv.port, user = 'root') => ({host: '127.0.0.1', port, user})
async function dial(extra: Partial<ConnectOptions> = {}, t = target()): Promise<Transport> {
  const tr = await connect(t, opts(extra))
  open.push(tr)
  return tr
}
const rejectsWith = async (p: Promise<unknown>, re: RegExp) => {
  const err = await p.then(() => assert.fail('expected a rejection'), (e: unknown) => e)
  assert.ok(err instanceof ConnectionError, `not a ConnectionError: ${String(err)}`)
  assert.match(err.message + '\n' + (err.fix ?? ''), re)
  return err
}

before(async () => {
  srv = await startServer({clientKey})
  echo = await startEcho()
  writeFileSync(home.knownHosts, knownLine(srv.port, srv.hostKey) + '\n')
})
after(async () => {
  for (const t of open) await t.close()
  await srv.close()
  echo.server.close()
  home.remove()
})

describe('host key verification', () => {
  it('accepts a known key ([host]:port entry)', async () => {
    const t = await dial()
    assert.equal((await t.run(['echo', 'hi'])).stdout, 'hi\n')
  })

  it('refuses an unknown host, naming the SHA256 fingerprint and ssh-keyscan', async () => {
    const other = await startServer({clientKey})
    try {
      const err = await rejectsWith(connect(target(other.port), opts()), /unknown host key/)
      assert.ok(err.message.includes(fingerprintSha256(other.hostKey.blob)))
      assert.match(err.fix!, new RegExp(`ssh-keyscan -p ${other.port} 127\\.0\\.0\\.1 >> `))
      assert.match(err.fix!, /acceptNew/)
      assert.equal(other.users.length, 0, 'no credentials were offered to an unverified host')
    } finally {
      await other.close()
    }
  })

  it('refuses a changed key with MITM wording, also with acceptNew', async () => {
    const impostor = await startServer({clientKey})
    const kh = home.write('kh-changed', knownLine(impostor.port, srv.hostKey) + '\n')
    try {
      for (const acceptNew of [false, true]) {
        const err = await rejectsWith(connect(target(impostor.port), opts({knownHostsFile: kh, acceptNew})), /possible man-in-the-middle attack/)
        assert.ok(err.message.includes(fingerprintSha256(impostor.hostKey.blob)))
        assert.match(err.fix!, /ssh-keygen -R/)
      }
      assert.equal(readFileSync(kh, 'utf8'), knownLine(impostor.port, srv.hostKey) + '\n', 'file untouched')
    } finally {
      await impostor.close()
    }
  })

  it('refuses a @revoked key', async () => {
    const kh = home.write('kh-revoked', `@revoked * ${srv.hostKey.public.split(' ').slice(0, 2).join(' ')}\n`)
    await rejectsWith(connect(target(), opts({knownHostsFile: kh})), /@revoked/)
  })

  for (const hashed of [false, true]) {
    it(`acceptNew appends a ${hashed ? 'hashed' : 'plain'} entry, then a strict reconnect succeeds`, async () => {
      const fresh = await startServer({clientKey})
      const kh = home.write(`kh-new-${hashed}`, '# no newline at end')
      try {
        await dial({knownHostsFile: kh, acceptNew: true, hashKnownHosts: hashed}, target(fresh.port))
        const lines = readFileSync(kh, 'utf8').split('\n')
        assert.equal(lines[0], '# no newline at end')
        assert.equal(lines[1].startsWith('|1|'), hashed)
        if (!hashed) assert.equal(lines[1], knownLine(fresh.port, fresh.hostKey))
        const again = await dial({knownHostsFile: kh}, target(fresh.port))
        assert.equal((await again.run(['true'])).code, 0)
      } finally {
        await fresh.close()
      }
    })
  }

  it('accepts a hashed entry (knownHostsFile given as ~/...)', async () => {
    const {formatKnownHostsLine} = await import('../../src/remote/known-hosts.js')
    home.write('kh-hashed', formatKnownHostsLine(`[127.0.0.1]:${srv.port}`, srv.hostKey.blob, {hashed: true}) + '\n')
    writeFileSync(home.knownHosts, '') // only the hashed file may vouch for the host
    try {
      await dial({knownHostsFile: '~/.ssh/kh-hashed'})
    } finally {
      writeFileSync(home.knownHosts, knownLine(srv.port, srv.hostKey) + '\n')
    }
  })
})

describe('authentication', () => {
  it('lists what was tried when every method fails, without key material', async () => {
    const wrong: KeyPair = newKeyPair()
    const file = home.write('wrong_key', wrong.private)
    const err = await rejectsWith(connect(target(), opts({identityFile: file})), /authentication failed for root@127\.0\.0\.1/)
    assert.ok(err.message.includes(`identity file ${file} (ssh-ed25519)`))
    assert.ok(!err.message.includes('PRIVATE KEY') && !err.message.includes(wrong.private.split('\n')[1]))
  })

  it('says so when there is nothing to offer', async () => {
    await rejectsWith(connect(target(), opts({identityFile: home.ssh + '/missing'})), /missing: skipped, not found/)
  })

  it('uses default identities from ~/.ssh when none is configured', async () => {
    home.write('id_ed25519', clientKey.private)
    await dial({identityFile: undefined})
  })
})

describe('run', () => {
  let t: Transport
  before(async () => (t = await dial()))

  it('delivers hostile argv byte-exact through the remote shell', async () => {
    const hostile = ['a b', "it's", '"dq"', '$(echo pwned)', '`id`', 'x;rm -rf /nope', '', '*', 'new\nline', 'tab\there', '\\back', 'ünï', '-n']
    const argv = ['printf', '%s\\0', ...hostile]
    const r = await t.run(argv)
    assert.equal(r.code, 0)
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), hostile)
    assert.equal(srv.execs.at(-1), commandLine(argv))
  })

  it('writes stdin and ends it', async () => {
    const secret = 'line1\nline2 with ü\n'
    const r = await t.run(['cat'], {stdin: secret})
    assert.equal(r.stdout, secret)
    assert.equal((await t.run(['wc', '-c'], {stdin: Buffer.alloc(100000, 97)})).stdout.trim(), '100000')
  })

  it('reports non-zero exit and signals without throwing', async () => {
    assert.deepEqual(await t.run(['sh', '-c', 'echo out; echo err >&2; exit 3']), {code: 3, stdout: 'out\n', stderr: 'err\n'})
    // The inner shell kills the remote shell that runs our command line, i.e. "the command".
    const r = await t.run(['sh', '-c', 'kill -TERM $PPID'])
    assert.equal(r.code, null)
    assert.equal(r.signal, 'SIGTERM')
    assert.throws(() => assertOk(r, t, ['x']), /exited with a signal: killed by SIGTERM/)
  })

  it('assertOk names command, status and stderr', () => {
    assert.throws(() => assertOk({code: 2, stdout: '', stderr: 'boom\n'}, 'host-a', ['wg', 'show', 'a b']),
      (e: unknown) => e instanceof ExternalCommandError && e.message === "host-a: `wg show 'a b'` exited with 2: boom")
  })

  it('times out: closes the channel and rejects', async () => {
    const start = Date.now()
    await assert.rejects(t.run(['sleep', '30'], {timeoutMs: 300}), (e: unknown) => e instanceof CommandTimeoutError && /sleep 30/.test(e.message))
    assert.ok(Date.now() - start < 3000)
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(killed, ['sleep 30'], 'the server saw the channel close and killed the command')
    assert.equal((await t.run(['echo', 'still usable'])).stdout, 'still usable\n')
  })
})

describe('sudo', () => {
  let deploy: Transport
  let root: Transport
  before(async () => {
    srv.exec = (command, stream) => {
      if (command.includes('needs-password')) {
        // A host whose language is German: sudo speaks English only under LC_ALL=C.
        stream.stderr.write(command.startsWith('env LC_ALL=C sudo -n -- ') ? 'sudo: a password is required\n' : 'sudo: Ein Passwort ist notwendig\n')
        stream.exit(1)
        return stream.end()
      }
      // Strip our sudo prefix and run the rest, so the test sees what the host would run.
      shellExec(command.replace(/^env LC_ALL=C sudo -n -- /, ''), stream)
    }
    deploy = await dial({}, target(srv.port, 'deploy'))
    root = await dial()
  })
  after(() => void (srv.exec = shellExec))

  it('prefixes sudo -n -- (in the C locale) for a non-root user only', async () => {
    await deploy.run(['id', '-u'], {sudo: true})
    assert.equal(srv.execs.at(-1), 'env LC_ALL=C sudo -n -- id -u')
    await root.run(['id', '-u'], {sudo: true})
    assert.equal(srv.execs.at(-1), 'id -u')
    await deploy.run(['id', '-u'])
    assert.equal(srv.execs.at(-1), 'id -u')
  })

  it('returns the password failure, and assertOk explains NOPASSWD, whatever the host\'s language', async () => {
    const r = await deploy.run(['needs-password'], {sudo: true})
    assert.equal(r.code, 1)
    assert.throws(() => assertOk(r, deploy, ['needs-password']),
      (e: unknown) => e instanceof SudoPasswordError && e instanceof UserError && /configure NOPASSWD sudo for deploy or connect as root/.test(e.fix!))
  })
})

describe('tcp, keepalive', () => {
  it('openTcp reaches a port from the host side (direct-tcpip)', async () => {
    const t = await dial()
    const ch = await t.openTcp('127.0.0.1', echo.port)
    const got = new Promise<string>((resolve) => ch.once('data', (d: Buffer) => resolve(d.toString())))
    ch.write('ping')
    assert.equal(await got, 'ping')
    ch.end()
    assert.deepEqual(srv.tcpip.at(-1), {destIP: '127.0.0.1', destPort: echo.port})
  })

  it('returns a forwarded channel\'s window as each chunk arrives (its packet acknowledges the host\'s segment at once)', async () => {
    // ssh2 alone sends a window adjust only once the window runs low; sshd, holding its next small segment until
    // the last is acknowledged, then waited for this end's delayed ACK on every probe exchange.
    const t = await dial()
    const adjusts = () => srv.debug.filter((l) => /Inbound: CHANNEL_WINDOW_ADJUST \(r:\d+, \d+\)/.test(l)).map((l) => Number(/, (\d+)\)/.exec(l)![1]))
    const before = adjusts().length
    const ch = await t.openTcp('127.0.0.1', echo.port)
    let got = ''
    ch.on('data', (d: Buffer) => (got += d.toString()))
    ch.write('hello, epmd')
    for (let i = 0; i < 100 && (got !== 'hello, epmd' || adjusts().length === before); i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(got, 'hello, epmd')
    ch.end()
    assert.equal(adjusts().slice(before).reduce((a, b) => a + b, 0), 'hello, epmd'.length, `adjusts seen: ${adjusts().slice(before).join(', ')}`)
  })

  it('a forwarded channel whose reader is behind gets no more window than ssh2 gives: what the host sends is bounded', async () => {
    // 8 MiB offered at once; nothing read for a while. The window returned meanwhile must stop near what the
    // channel buffers (2 MiB window + 2 MiB readable buffer), not follow everything the host can send.
    const total = 8 * 1024 * 1024
    const bulk = createServer((s) => s.end(Buffer.alloc(total, 7)))
    await new Promise<void>((r) => bulk.listen(0, '127.0.0.1', r))
    try {
      const t = await dial()
      const adjusted = () => srv.debug.filter((l) => /Inbound: CHANNEL_WINDOW_ADJUST \(r:\d+, \d+\)/.test(l)).reduce((a, l) => a + Number(/, (\d+)\)/.exec(l)![1]), 0)
      const before = adjusted()
      const ch = await t.openTcp('127.0.0.1', (bulk.address() as AddressInfo).port)
      await new Promise((r) => setTimeout(r, 500))
      const whileIdle = adjusted() - before
      assert.ok(whileIdle <= 4.5 * 1024 * 1024, `window returned while the reader was idle: ${whileIdle} bytes`)
      let got = 0
      ch.on('data', (d: Buffer) => (got += d.length))
      await new Promise<void>((r) => ch.once('end', () => r()))
      assert.equal(got, total)
    } finally {
      bulk.close()
    }
  })

  it('a forwarded channel keeps what arrives before its reader is there, in order', async () => {
    const t = await dial()
    const ch = await t.openTcp('127.0.0.1', echo.port)
    ch.write('first ')
    ch.write('second')
    await new Promise((r) => setTimeout(r, 200))
    let got = ''
    ch.on('data', (d: Buffer) => (got += d.toString()))
    for (let i = 0; i < 100 && got !== 'first second'; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(got, 'first second')
    ch.end()
  })

  it('coalesceWrites sends the writes of one event-loop turn together, all of them, in order', async () => {
    const received: Buffer[] = []
    const server = createServer((s) => s.on('data', (d) => received.push(d)))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const sock = coalesceWrites(netConnect((server.address() as AddressInfo).port, '127.0.0.1'))
    try {
      await new Promise<void>((r) => sock.once('connect', () => r()))
      sock.write('a')
      sock.write('b')
      assert.equal(sock.writableCorked, 1, 'held until the turn ends')
      await new Promise((r) => process.nextTick(r))
      assert.equal(sock.writableCorked, 0, 'released on the next tick')
      sock.write('c')
      sock.end('d') // end() in the same turn as a write releases it too
      for (let i = 0; i < 100 && Buffer.concat(received).toString() !== 'abcd'; i++) await new Promise((r) => setTimeout(r, 20))
      assert.equal(Buffer.concat(received).toString(), 'abcd')
    } finally {
      sock.destroy()
      server.close()
    }
  })

  it('sends keepalives at the configured interval; readyTimeout from connectTimeoutSeconds', async () => {
    const cfg = clientConfig({host: 'h', port: 22, user: 'u', identityFiles: []}, {name: 'x', connectTimeoutSeconds: 7}, [])
    assert.equal(cfg.keepaliveInterval, 15000)
    assert.equal(cfg.readyTimeout, 7000)
    const before = srv.debug.filter((l) => l.includes('keepalive@openssh.com')).length
    await dial({keepaliveIntervalMs: 100})
    await new Promise((r) => setTimeout(r, 450))
    const seen = srv.debug.filter((l) => l.includes('keepalive@openssh.com')).length - before
    assert.ok(seen >= 2, `saw ${seen} keepalives`)
  })

  it('close() is idempotent and later runs fail with ConnectionError', async () => {
    const t = await dial()
    await t.close()
    await t.close()
    await assert.rejects(t.run(['true']), ConnectionError)
  })

  it('a direct connection uses the one TCP connection it opened before loading ssh2, known_hosts and the keys', async () => {
    let accepted = 0
    const proxy = createServer((s) => {
      accepted++
      const up = netConnect(srv.port, '127.0.0.1')
      s.on('error', () => undefined)
      up.on('error', () => undefined)
      s.pipe(up).pipe(s)
      s.on('close', () => up.destroy())
    })
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()))
    const port = (proxy.address() as AddressInfo).port
    try {
      writeFileSync(home.knownHosts, `${knownLine(srv.port, srv.hostKey)}\n${knownLine(port, srv.hostKey)}\n`)
      const t = await dial({}, target(port))
      assert.equal((await t.run(['echo', 'hi'])).stdout, 'hi\n')
      assert.equal(accepted, 1, 'one TCP connection: ssh2 took over the early one')
    } finally {
      proxy.close()
    }
  })

  it('unreachable port gives a ConnectionError', async () => {
    const {port} = await startEcho().then(async (e) => (await new Promise<void>((r) => e.server.close(() => r())), e))
    writeFileSync(home.knownHosts, knownLine(srv.port, srv.hostKey) + '\n')
    await rejectsWith(connect(target(port), opts()), /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/)
  })
})
