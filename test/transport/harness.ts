// In-process SSH servers for transport tests: 127.0.0.1 only, pinned host keys, publickey auth for
// one test key, exec by a handler (default: run the command with /bin/sh, like sshd), direct-tcpip.
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, connect as netConnect} from 'node:net'
import type {AddressInfo, Server as NetServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Duplex} from 'node:stream'
import ssh2 from 'ssh2'
import type {ServerChannel} from 'ssh2'

const {Server, utils} = ssh2

export interface KeyPair {
  private: string
  public: string
  /** The raw public key blob (what known_hosts stores in base64). */
  blob: Buffer
}

export function newKeyPair(): KeyPair {
  // ssh2's generator strips leading zero bytes of the public key, so about 1 key in 256 is one its own parseKey
  // rejects ("Malformed OpenSSH public key", mscdex/ssh2#1513): draw again. Bounded: 8 bad draws in a row is
  // a chance of 256^-8, so it would be another bug.
  for (let attempt = 0; attempt < 8; attempt++) {
    const k = utils.generateKeyPairSync('ed25519')
    if (utils.parseKey(k.public) instanceof Error || utils.parseKey(k.private) instanceof Error) continue
    return {private: k.private, public: k.public, blob: Buffer.from(k.public.split(' ')[1], 'base64')}
  }
  throw new Error('ssh2 generated 8 unparseable ed25519 key pairs in a row')
}

export type ExecHandler = (command: string, stream: ServerChannel) => void

export interface TestServer {
  port: number
  hostKey: KeyPair
  execs: string[]
  tcpip: Array<{destIP: string; destPort: number}>
  users: string[]
  /** Debug lines from ssh2, to observe e.g. keepalive global requests. */
  debug: string[]
  exec: ExecHandler
  close(): Promise<void>
}

/** Commands killed because the client closed their channel early (timeouts). */
export const killed: string[] = []

/** Runs the command with /bin/sh -c, piping stdin/stdout/stderr and reporting exit code or signal. */
export const shellExec: ExecHandler = (command, stream) => {
  // Own process group, so a timeout kills the whole command (sh and what it started).
  const child = spawn('/bin/sh', ['-c', command], {stdio: 'pipe', detached: true})
  stream.pipe(child.stdin).on('error', () => {})
  child.stdout.pipe(stream, {end: false})
  child.stderr.pipe(stream.stderr, {end: false})
  let done = false
  child.on('close', (code, signal) => {
    done = true
    if (signal) stream.exit(signal.replace(/^SIG/, ''), false, '')
    else stream.exit(code ?? 1)
    stream.end()
  })
  // A client timeout closes the channel: kill the process so the test leaves nothing running.
  stream.on('close', () => {
    if (!done && child.pid) {
      killed.push(command)
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

export function startServer(opts: {clientKey: KeyPair; hostKey?: KeyPair; exec?: ExecHandler}): Promise<TestServer> {
  const hostKey = opts.hostKey ?? newKeyPair()
  const allowed = utils.parseKey(opts.clientKey.public)
  if (allowed instanceof Error) throw allowed
  const connections = new Set<{end(): void}>()
  const state: TestServer = {
    port: 0, hostKey, execs: [], tcpip: [], users: [], debug: [], exec: opts.exec ?? shellExec,
    close: async () => {
      for (const c of connections) c.end()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
  const server = new Server({hostKeys: [hostKey.private], debug: (s: string) => state.debug.push(s)}, (client) => {
    connections.add(client)
    client.on('close', () => connections.delete(client))
    client.on('error', () => {})
    client.on('authentication', (ctx) => {
      state.users.push(ctx.username)
      if (ctx.method !== 'publickey') return ctx.reject(['publickey'])
      const pk = Array.isArray(allowed) ? allowed[0] : allowed
      if (ctx.key.algo !== pk.type || !ctx.key.data.equals(pk.getPublicSSH())) return ctx.reject()
      if (ctx.signature && pk.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject()
      ctx.accept()
    })
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept()
        session.on('exec', (acceptExec, _reject, info) => {
          state.execs.push(info.command)
          state.exec(info.command, acceptExec())
        })
      })
      client.on('tcpip', (accept, reject, info) => {
        state.tcpip.push({destIP: info.destIP, destPort: info.destPort})
        if (info.destIP !== '127.0.0.1') return reject()
        const sock = netConnect(info.destPort, '127.0.0.1')
        sock.on('connect', () => {
          const ch = accept()
          ch.pipe(sock).pipe(ch)
          ch.on('close', () => sock.destroy())
        })
        sock.on('error', () => reject())
      })
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      state.port = (server.address() as AddressInfo).port
      resolve(state)
    })
  })
}

/** A TCP echo server on 127.0.0.1 (the far end for openTcp/direct-tcpip tests). */
export function startEcho(): Promise<{port: number; server: NetServer}> {
  const server = createServer((s) => s.pipe(s))
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({port: (server.address() as AddressInfo).port, server})))
}

/**
 * An EPMD on 127.0.0.1 that answers NAMES (request byte 110) with its port as 4 bytes and one node, `app` at port
 * 9100, then closes; dial() opens a TCP connection to it (what a host's direct-tcpip channel would be).
 */
export async function startNamesEpmd(): Promise<{port: number; dial(): Promise<Duplex>; close(): void}> {
  const server = createServer((s) => s.once('data', () => s.end(Buffer.concat([Buffer.from([0, 0, 0x11, 0x11]), Buffer.from('name app at port 9100\n')]))))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const dial = () =>
    new Promise<Duplex>((resolve, reject) => {
      const s = netConnect({host: '127.0.0.1', port}, () => resolve(s))
      s.once('error', reject)
    })
  return {port, dial, close: () => server.close()}
}

/** A scratch home with .ssh/ (0700), the client key as id_ed25519 and helpers to write files. */
export function scratchHome(clientKey?: KeyPair) {
  const home = mkdtempSync(join(tmpdir(), 'mesh-ssh-test-'))
  const ssh = join(home, '.ssh')
  mkdirSync(ssh, {mode: 0o700})
  const keyFile = join(ssh, 'test_key')
  if (clientKey) writeFileSync(keyFile, clientKey.private, {mode: 0o600})
  return {
    home,
    ssh,
    keyFile,
    knownHosts: join(ssh, 'known_hosts'),
    write: (name: string, text: string) => {
      const p = join(ssh, name)
      writeFileSync(p, text, {mode: 0o600})
      return p
    },
    remove: () => rmSync(home, {recursive: true, force: true}),
  }
}

export const knownLine = (port: number, key: KeyPair) => `[127.0.0.1]:${port} ${key.public.split(' ').slice(0, 2).join(' ')}`
