// Closing is bounded whatever the peer does: an SSH server that stops reading after the last command (a frozen
// sshd, a cut link) must not keep the client, or the CLI process, alive. The server sits behind a TCP proxy that
// can freeze: it stops reading in both directions and never closes, so the client's disconnect and FIN are
// accepted by the kernel but never answered.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import type {AddressInfo, Socket} from 'node:net'
import {dirname, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {closeAll} from '../../src/remote/pool.js'
import {CLOSE_BOUND_MS, connect} from '../../src/remote/ssh.js'
import {TestServer, knownLine, newKeyPair, scratchHome, startServer} from './harness.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const clientKey = newKeyPair()
const home = scratchHome(clientKey)
let srv: TestServer

/** A TCP proxy to the test server; freeze() makes it a peer that neither reads nor closes. */
async function freezableProxy(targetPort: number) {
  const sockets: Socket[] = []
  let frozen = false
  const server = createServer((inbound) => {
    const outbound = new (inbound.constructor as typeof Socket)()
    outbound.connect(targetPort, '127.0.0.1')
    sockets.push(inbound, outbound)
    for (const s of [inbound, outbound]) s.on('error', () => {})
    inbound.pipe(outbound)
    outbound.pipe(inbound)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as AddressInfo).port
  writeFileSync(home.knownHosts, knownLine(port, srv.hostKey) + '\n')
  return {
    port,
    freeze() {
      frozen = true
      for (const s of sockets) {
        s.unpipe()
        s.pause()
      }
    },
    get frozen() {
      return frozen
    },
    stop() {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

before(async () => {
  srv = await startServer({clientKey})
})
after(async () => {
  await srv.close()
  home.remove()
})

describe('bounded close', () => {
  it('a peer that stops reading: close() drops the socket after the bound and says so', async () => {
    const proxy = await freezableProxy(srv.port)
    try {
      const t = await connect({host: '127.0.0.1', port: proxy.port, user: 'root'}, {
        name: 'frozen-host', home: home.home, identityFile: home.keyFile, agentSocket: null, globalKnownHostsFile: null, connectTimeoutSeconds: 10,
      })
      assert.equal((await t.run(['echo', 'hi'])).stdout, 'hi\n')
      proxy.freeze()
      const t0 = Date.now()
      const notes = await closeAll([t])
      const ms = Date.now() - t0
      assert.ok(ms >= CLOSE_BOUND_MS - 100 && ms < CLOSE_BOUND_MS + 2000, `close took ${ms} ms (bound ${CLOSE_BOUND_MS} ms)`)
      assert.equal(notes.length, 1)
      assert.equal(notes[0].name, 'frozen-host')
      assert.match(notes[0].note, /did not close within 3 s .*dropped/)
    } finally {
      proxy.stop()
    }
  })

  it('a healthy peer closes cleanly and quickly, with no note', async () => {
    writeFileSync(home.knownHosts, knownLine(srv.port, srv.hostKey) + '\n')
    const t = await connect({host: '127.0.0.1', port: srv.port, user: 'root'}, {
      name: 'fine-host', home: home.home, identityFile: home.keyFile, agentSocket: null, globalKnownHostsFile: null,
    })
    await t.run(['true'])
    const t0 = Date.now()
    assert.deepEqual(await closeAll([t]), [])
    assert.ok(Date.now() - t0 < CLOSE_BOUND_MS, 'no waiting for the bound')
  })

  it('the process exits on its own after closing a frozen peer (no socket keeps it alive)', {timeout: 60_000}, async () => {
    const proxy = await freezableProxy(srv.port)
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'close-child.ts'), String(proxy.port), home.keyFile, home.home], {
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
      const exited = new Promise<{code: number | null; at: number}>((r) => child.on('exit', (code) => r({code, at: Date.now()})))
      const ran = new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d
          if (out.includes('ran done\n')) resolve()
        })
        child.on('exit', () => reject(new Error(`child exited before running: ${out}${err}`)))
      })
      const guard = setTimeout(() => child.kill('SIGKILL'), 45_000)
      try {
        await ran
        proxy.freeze()
        const t0 = Date.now()
        child.stdin.end('close\n')
        const {code, at} = await exited
        assert.equal(code, 0, `child killed or failed (still alive after 45 s means a hang): ${out}${err}`)
        assert.ok(at - t0 < CLOSE_BOUND_MS + 5000, `exited ${at - t0} ms after close was asked`)
        const closed = JSON.parse(/closed (.*)\n/.exec(out)![1])
        assert.equal(closed.forced, true)
      } finally {
        clearTimeout(guard)
      }
    } finally {
      proxy.stop()
    }
  })
})
