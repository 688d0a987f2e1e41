// Issue 12: ssh config as OpenSSH reads it (Include with globs relative to ~/.ssh, /etc/ssh/ssh_config after the
// user's file), ProxyCommand used as the connection (never silently ignored), and identity files others can read
// refused as OpenSSH refuses them. Against the in-process ssh2 server of harness.ts.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {ConnectionError, UserError} from '../../src/core/errors.js'
import {connect, loadSshConfig, resolveEndpoint} from '../../src/remote/ssh.js'
import {TestServer, knownLine, newKeyPair, scratchHome, startServer} from './harness.js'

const clientKey = newKeyPair()
const home = scratchHome(clientKey)
let srv: TestServer

before(async () => {
  srv = await startServer({clientKey})
  writeFileSync(home.knownHosts, knownLine(srv.port, srv.hostKey) + '\n')
})
after(async () => {
  await srv.close()
  home.remove()
})

const base = {name: 'host-a', home: home.home, agentSocket: null, globalKnownHostsFile: null, systemConfigFile: null, connectTimeoutSeconds: 30} // a node ProxyCommand starts slowly on a loaded machine

describe('ssh config Include and the system config', () => {
  it('follows Include with globs relative to ~/.ssh, in order, and scoped to the Host block it sits in', () => {
    mkdirSync(join(home.ssh, 'conf.d'), {recursive: true})
    home.write('conf.d/10-web.conf', 'Host web\n  HostName 10.0.0.10\n  User deploy\n')
    home.write('conf.d/20-web.conf', 'Host web\n  User later-loses\n  Port 2200\n')
    home.write('conf.d/ignored.txt', 'Host web\n  Port 1\n')
    home.write('scoped.conf', 'User scoped-user\n')
    const cfg = home.write('config-include', 'Include conf.d/*.conf\nHost db\n  Include scoped.conf\n  Port 2300\n')
    const blocks = loadSshConfig(cfg, home.home, null)
    assert.deepEqual({...resolveEndpoint({host: 'web'}, blocks), identityFiles: []}, {host: '10.0.0.10', port: 2200, user: 'deploy', identityFiles: [], proxyJump: []})
    const db = resolveEndpoint({host: 'db'}, blocks)
    assert.deepEqual([db.user, db.port], ['scoped-user', 2300])
    assert.equal(resolveEndpoint({host: 'other'}, blocks).user, 'root', 'an Include inside `Host db` applies to db only')
  })

  it('reads /etc/ssh/ssh_config after ~/.ssh/config (the user wins), with its includes relative to its folder', () => {
    const etc = join(home.home, 'etc-ssh')
    mkdirSync(join(etc, 'ssh_config.d'), {recursive: true})
    writeFileSync(join(etc, 'ssh_config.d', 'fleet.conf'), 'Host fleet-*\n  User ops\n  Port 2222\n')
    writeFileSync(join(etc, 'ssh_config'), 'Include ssh_config.d/*.conf\n')
    home.write('config', 'Host fleet-1\n  Port 2201\n')
    try {
      const blocks = loadSshConfig(undefined, home.home, join(etc, 'ssh_config'))
      const e = resolveEndpoint({host: 'fleet-1'}, blocks)
      assert.deepEqual([e.user, e.port], ['ops', 2201])
      assert.equal(loadSshConfig(home.write('config-f', ''), home.home, join(etc, 'ssh_config')).length, 1, 'a given config file (ssh -F) skips the system one')
    } finally {
      home.write('config', '')
    }
  })

  it('connects as the user and port an included file sets', async () => {
    home.write('inc-target.conf', `Host target\n  HostName 127.0.0.1\n  Port ${srv.port}\n  User included\n`)
    const cfg = home.write('config-inc-connect', 'Include ~/.ssh/inc-target.conf\n')
    const t = await connect({host: 'target'}, {...base, identityFile: home.keyFile, configFile: cfg})
    try {
      assert.equal(srv.users.at(-1), 'included')
    } finally {
      await t.close()
    }
  })
})

describe('ProxyCommand', () => {
  // A ProxyCommand that needs nothing but node: stdin/stdout joined to a TCP connection to %h:%p.
  const relay = `${process.execPath} -e "const s=require('net').connect(+process.argv[2],process.argv[1]);process.stdin.pipe(s);s.pipe(process.stdout);s.on('close',()=>process.exit(0))" %h %p`

  it('uses the command\'s stdio as the SSH connection (%p expanded)', async () => {
    // A name nothing resolves: only the ProxyCommand (which dials 127.0.0.1) can reach the server.
    const cfg = home.write('config-proxy', `Host target\n  HostName proxied.invalid\n  Port ${srv.port}\n  ProxyCommand ${relay.replace('%h', '127.0.0.1')}\n`)
    home.write('kh-proxy', knownLine(srv.port, srv.hostKey).replace('[127.0.0.1]', '[proxied.invalid]') + '\n')
    const t = await connect({host: 'target'}, {...base, identityFile: home.keyFile, configFile: cfg, knownHostsFile: join(home.ssh, 'kh-proxy')})
    try {
      assert.equal((await t.run(['echo', 'through-proxy'])).stdout, 'through-proxy\n')
    } finally {
      await t.close()
    }
  })

  it('a failing ProxyCommand fails the connection with what the command said', async () => {
    const cfg = home.write('config-proxy-bad', 'Host target\n  HostName 127.0.0.1\n  ProxyCommand sh -c "echo proxy refused >&2; exit 3"\n')
    await assert.rejects(connect({host: 'target'}, {...base, identityFile: home.keyFile, configFile: cfg}), (e: Error) => {
      assert.ok(e instanceof ConnectionError, String(e))
      assert.match(e.message, /^host-a: ProxyCommand `sh -c "echo proxy refused >&2; exit 3"`: .*; it said: proxy refused/)
      return true
    })
  })

  it('refuses unknown tokens, naming the host and option', () => {
    const blocks = loadSshConfig(home.write('config-proxy-tok', 'Host t\n  ProxyCommand nc %h %p %C\n'), home.home, null)
    assert.throws(() => resolveEndpoint({host: 't'}, blocks), (e: Error) => e instanceof UserError && /ssh config for t: ProxyCommand token %C/.test(e.message))
  })
})

describe('identity file permissions', () => {
  it('refuses a configured identity file others can read, with the path and a chmod fix', async () => {
    const file = home.write('open_key', clientKey.private)
    chmodSync(file, 0o644)
    await assert.rejects(connect({host: '127.0.0.1', port: srv.port, user: 'root'}, {...base, identityFile: file}), (e: Error & {fix?: string}) => {
      assert.ok(e instanceof UserError, String(e))
      assert.match(e.message, new RegExp(`identity file ${file}: permissions 0644 are too open`))
      assert.equal(e.fix, `chmod 600 '${file}'`)
      return true
    })
  })

  it('skips a default identity others can read, and says so when authentication then fails', async () => {
    const h = scratchHome()
    writeFileSync(join(h.ssh, 'known_hosts'), knownLine(srv.port, srv.hostKey) + '\n')
    const file = h.write('id_ed25519', clientKey.private)
    chmodSync(file, 0o640)
    try {
      await assert.rejects(connect({host: '127.0.0.1', port: srv.port, user: 'root'}, {...base, home: h.home}), (e: Error) => {
        assert.match(e.message, new RegExp(`identity file ${file}: refused, permissions 0640 are too open \\(fix: chmod 600`))
        return true
      })
    } finally {
      h.remove()
    }
  })
})
