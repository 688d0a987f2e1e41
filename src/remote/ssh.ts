// The ssh2 Transport. connect() resolves ~/.ssh/config, dials through any ProxyJump hops, verifies
// every host key against known_hosts (fail closed) and authenticates with the agent or key files.
import {connect as tcpConnect} from 'node:net'
import type {Socket} from 'node:net'
import {homedir} from 'node:os'
import {join} from 'node:path'
import type {Duplex} from 'node:stream'
import type {Client, ConnectConfig, ServerHostKeyAlgorithm} from 'ssh2'
import {ConnectionError, UserError} from '../core/errors.js'
import type {SshTarget} from '../core/inventory.js'
import {execCommand} from './exec.js'
import {HostKeyPolicy, makeHostVerifier, preferredHostKeyAlgos} from './host-keys.js'
import {withSudo} from './result.js'
import {expandHome, planAuth} from './ssh-auth.js'
import {JumpHost, ResolvedSshConfig, SshConfigBlock, resolveSshConfig} from './ssh-config.js'
import {loadSshConfig} from './ssh-config-files.js'
import {loadSsh2} from './ssh2-module.js'
import {ProxyProcess, expandProxyCommand, startProxyCommand} from './proxy-command.js'
import {commandLine} from './transport.js'
import {ioTimeout} from './timeouts.js'
import type {CloseResult, RunOptions, RunResult, Transport} from './transport.js'

export {assertOk, SudoPasswordError, CommandTimeoutError} from './result.js'
export {loadSshConfig} from './ssh-config-files.js'

export interface ConnectOptions {
  /** The inventory host name, used in every message. */
  name: string
  identityFile?: string
  knownHostsFile?: string
  /** Default ~/.ssh/config when it exists. */
  configFile?: string
  connectTimeoutSeconds?: number
  /** ssh keepalive pings; a dead peer is detected after 3 missed ones. Default 15000. */
  keepaliveIntervalMs?: number
  /** Record unknown host keys (never changed ones), like StrictHostKeyChecking=accept-new. */
  acceptNew?: boolean
  /** Write accepted keys hashed, like HashKnownHosts yes. */
  hashKnownHosts?: boolean
  /** Agent socket; default $SSH_AUTH_SOCK; null disables the agent. */
  agentSocket?: string | null
  /** Home directory for ~/.ssh; default os.homedir() (tests point it elsewhere). */
  home?: string
  /** The system-wide known_hosts file; default /etc/ssh/ssh_known_hosts; null skips it. */
  globalKnownHostsFile?: string | null
  /** The system-wide ssh config; default /etc/ssh/ssh_config (not read when configFile is given, as `ssh -F`); null skips it. */
  systemConfigFile?: string | null
  /** Limit for a command run without its own timeoutMs (e.g. doctor probes); default 120 s. Nothing runs unbounded. */
  commandTimeoutMs?: number
}

/** A concrete endpoint: after ssh config resolution, with the user and port fixed. */
export interface Endpoint {
  host: string
  port: number
  user: string
  identityFiles: string[]
}

export class SshTransport implements Transport {
  private closed = false
  constructor(readonly name: string, readonly user: string, private readonly client: Client, private readonly hops: Client[], private readonly defaultTimeoutMs = 120_000) {}

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const command = commandLine(withSudo(argv, this.user, opts.sudo))
    return execCommand(this.client, {where: this.name, command, stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? this.defaultTimeoutMs})
  }

  async openTcp(host: string, port: number): Promise<Duplex> {
    return acknowledgePromptly(await forwardOut(this.client, this.name, host, port))
  }

  async close(): Promise<CloseResult> {
    if (this.closed) return {forced: false}
    this.closed = true
    // Innermost first: the target's connection rides on the hops' channels.
    let forced = false
    for (const c of [this.client, ...[...this.hops].reverse()]) forced = !(await endClient(c)) || forced
    return forced ? {forced, detail: `the SSH connection did not close within ${CLOSE_BOUND_MS / 1000} s after the work was done (host unreachable or not responding): it was dropped`} : {forced}
  }
}

/** The parts of an ssh2 channel that acknowledgePromptly uses (ssh2 internals: checked, never assumed). */
interface WindowedChannel {
  incoming: {window: number}
  outgoing: {id: number; state?: unknown}
  _client: {_protocol: {channelWindowAdjust(id: number, bytes: number): void}}
}

function isWindowedChannel(channel: Duplex): channel is Duplex & WindowedChannel {
  const ch = channel as Duplex & {incoming?: {window?: unknown}; outgoing?: {id?: unknown}; _client?: {_protocol?: {channelWindowAdjust?: unknown}}}
  return typeof ch.incoming?.window === 'number' && typeof ch.outgoing?.id === 'number' && typeof ch._client?._protocol?.channelWindowAdjust === 'function'
}

/**
 * sshd sets TCP_NODELAY only for sessions with a terminal, so on our connection it holds a small segment back until
 * its previous one is acknowledged (Nagle). A forwarded port's reply and its EOF, or the two messages that open the
 * Erlang distribution handshake, are such pairs, and this end, with nothing to send, acknowledged the first only
 * when its delayed-ACK timer fired: 40 ms per exchange at rest, up to 200 ms on a busy machine (measured on the lab:
 * an EPMD NAMES exchange took 43 ms; with this, 2 ms). Returning the channel's window as soon as data arrives sends
 * a packet at once, and it carries the acknowledgement. It is what ssh2 itself does once the window runs low, done
 * at every chunk; on an ssh2 whose channel looks different, the channel is left as it is (only slower).
 */
function acknowledgePromptly(channel: Duplex): Duplex {
  if (!isWindowedChannel(channel)) return channel
  const {incoming, outgoing} = channel
  const protocol = channel._client._protocol
  const push = channel.push.bind(channel)
  // ssh2 hands every chunk to push() after taking its size off the window; an override sees each chunk, without
  // the 'data' listener that would switch the stream to flowing before its reader is there. A reader that is
  // behind (push returned false) keeps ssh2's own flow control: the window comes back when it has drained.
  channel.push = (chunk: unknown, encoding?: BufferEncoding) => {
    const more = push(chunk, encoding)
    const bytes = Buffer.isBuffer(chunk) ? chunk.length : 0
    if (more && bytes > 0 && outgoing.state !== 'closed') {
      incoming.window += bytes
      protocol.channelWindowAdjust(outgoing.id, bytes)
    }
    return more
  }
  return channel
}

/** How long a graceful SSH disconnect may take before the socket is destroyed. */
export const CLOSE_BOUND_MS = 3000

/**
 * Sends the SSH disconnect and a FIN, then waits at most `boundMs` for the peer to close its side. A peer that
 * vanished (link cut: FIN-WAIT-1 with unsent bytes) or stopped reading would otherwise keep the socket, and with it
 * the whole process, alive for minutes. Client.destroy() cannot do it: after end() ssh2 no longer sees the socket as
 * writable and ignores destroy(), so the socket itself is destroyed. Resolves true for a clean close.
 */
export function endClient(c: Client, boundMs = CLOSE_BOUND_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = (c as unknown as {_sock?: Duplex})._sock
    if (!sock || sock.destroyed) return resolve(true)
    // ioTimeout: a bound that fires late (no CPU for a while) must not drop a connection whose close already came.
    const t = ioTimeout(boundMs, () => {
      sock.destroy()
      c.destroy()
      resolve(false)
    })
    c.once('close', () => {
      t.clear()
      resolve(true)
    })
    try {
      c.end()
    } catch {
      sock.destroy()
    }
  })
}

function forwardOut(client: Client, where: string, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    try {
      client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (err) reject(new ConnectionError(where, `cannot open a TCP connection from the host to ${host}:${port}: ${err.message}`))
        else resolve(channel)
      })
    } catch (err) {
      reject(new ConnectionError(where, `cannot open a TCP connection to ${host}:${port}: ${(err as Error).message}`))
    }
  })
}

/** OpenSSH precedence: what the inventory says (the "command line") wins over ssh config. */
export function resolveEndpoint(target: SshTarget | JumpHost, blocks: readonly SshConfigBlock[]): Endpoint & {proxyJump: JumpHost[]; proxyCommand?: string} {
  const cfg: ResolvedSshConfig = resolveSshConfig(blocks, target.host)
  const ep = {
    host: cfg.hostName ?? target.host,
    port: target.port ?? cfg.port ?? 22,
    user: target.user ?? cfg.user ?? 'root',
    identityFiles: cfg.identityFiles,
    proxyJump: cfg.proxyJump,
  }
  if (cfg.proxyCommand === undefined) return ep
  try {
    return {...ep, proxyCommand: expandProxyCommand(cfg.proxyCommand, {...ep, alias: target.host})}
  } catch (e) {
    throw new UserError(`ssh config for ${target.host}: ${(e as Error).message}`, 'use only %h, %p, %r and %n in the ProxyCommand line, or set ProxyJump instead')
  }
}

export async function connect(target: SshTarget, given: ConnectOptions): Promise<Transport> {
  const home = given.home ?? homedir()
  // Inventory paths may start with `~/`, as in ssh itself.
  const tilde = (p?: string) => (p === undefined ? p : expandHome(p, home))
  const options = {...given, knownHostsFile: tilde(given.knownHostsFile), configFile: tilde(given.configFile)}
  const blocks = loadSshConfig(options.configFile, home, options.systemConfigFile)
  const dest = resolveEndpoint(target, blocks)
  const hops: Client[] = []
  let proxy: ProxyProcess | undefined
  try {
    // Hops get their own config lookup (User, Port, IdentityFile) but not a nested ProxyJump.
    const path = [...dest.proxyJump.map((j) => resolveEndpoint(j, blocks)), dest]
    const proxied = path.find((p, i) => p.proxyCommand !== undefined && i < path.length - 1)
    if (proxied) {
      throw new UserError(`${options.name}: jump host ${proxied.host} has a ProxyCommand in the ssh config; a ProxyCommand on a jump host is not supported`, 'reach the jump host directly, or use ProxyJump for every hop')
    }
    let sock: Duplex | undefined
    // A direct connection opens its TCP socket now, before anything is awaited (ssh2 still loading, known_hosts and
    // keys still being read): the host's sshd starts up meanwhile. A socket that fails before ssh2 takes it over
    // is dropped and ssh2 dials again, so a failure is reported exactly as ssh2's own dial reports it.
    const early = path.length === 1 && dest.proxyCommand === undefined ? earlySocket(dest.host, dest.port) : undefined
    if (dest.proxyCommand !== undefined) {
      // The command's stdin/stdout are the SSH connection, as in OpenSSH.
      proxy = startProxyCommand(dest.proxyCommand)
      sock = proxy.sock
    }
    for (let i = 0; i < path.length - 1; i++) {
      const hop = path[i]
      const next = path[i + 1]
      const label = `${options.name} (via jump host ${hop.host}:${hop.port})`
      hops.push(await dial(label, hop, sock, options, home))
      // Each hop opens the TCP connection to the next one; the last hop reaches the target.
      sock = await forwardOut(hops[hops.length - 1], label, next.host, next.port)
    }
    const label = proxy ? `${options.name} (via ProxyCommand)` : options.name
    const t0 = performance.now()
    const client = await dial(label, {...dest, identityFiles: dest.identityFiles}, sock ?? early, options, home).catch(async (e: Error) => {
      early?.destroy()
      const said = await proxy?.stderr()
      throw said && e instanceof ConnectionError ? new ConnectionError(options.name, `ProxyCommand \`${dest.proxyCommand}\`: ${e.message.replace(/^[^:]*: /, '')}; it said: ${said}`, e.fix) : e
    })
    if (proxy) client.once('close', () => proxy?.stop())
    if (process.env.MESH_DEBUG_REMOTE === '1') process.stderr.write(`[remote] ${options.name} ${(performance.now() - t0).toFixed(0)} ms connect\n`)
    return new SshTransport(options.name, dest.user, client, hops, options.commandTimeoutMs)
  } catch (err) {
    proxy?.stop()
    for (const h of hops.reverse()) await endClient(h)
    throw err
  }
}

/** A TCP connection opened ahead of ssh2; failed: it errored before ssh2 took it over (ssh2 then dials anew). */
type EarlySocket = Socket & {failed?: boolean}

function earlySocket(host: string, port: number): EarlySocket {
  const sock: EarlySocket = coalesceWrites(tcpConnect({host, port}))
  // ssh2 adds its own listener once it takes the socket over; until then an error only marks the socket as failed.
  sock.on('error', () => {
    sock.failed = true
  })
  return sock
}

/**
 * ssh2 writes every SSH packet with a write() of its own: a doctor that opens 30 channels on a connection made 30
 * system calls and 30 TCP segments, each woken up for on the host. The packets written before the current callback
 * returns now leave in one writev: the first write corks the socket and a process.nextTick uncorks it, which runs
 * once that callback has returned. It is the coalescing Nagle did, without its wait for an acknowledgement.
 */
export function coalesceWrites<S extends Socket>(sock: S): S {
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean
  let corked = false
  sock.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true
      sock.cork()
      process.nextTick(() => {
        corked = false
        sock.uncork()
      })
    }
    return write(...args)
  })
  return sock
}

/** The ssh2 client config (exported so tests can check keepalive and timeouts without a server). */
export function clientConfig(ep: Endpoint, options: ConnectOptions, knownTypes: string[]): ConnectConfig {
  return {
    host: ep.host,
    port: ep.port,
    username: ep.user,
    readyTimeout: (options.connectTimeoutSeconds ?? 15) * 1000,
    keepaliveInterval: options.keepaliveIntervalMs ?? 15000,
    keepaliveCountMax: 3,
    algorithms: {serverHostKey: preferredHostKeyAlgos(knownTypes) as ServerHostKeyAlgorithm[]},
  }
}

async function dial(label: string, ep: Endpoint, sock: Duplex | undefined, options: ConnectOptions, home: string): Promise<Client> {
  const policy: HostKeyPolicy = {
    files: [join(home, '.ssh', 'known_hosts'), options.knownHostsFile, options.globalKnownHostsFile === undefined ? '/etc/ssh/ssh_known_hosts' : options.globalKnownHostsFile]
      .filter((f): f is string => typeof f === 'string'),
    writeFile: options.knownHostsFile ?? join(home, '.ssh', 'known_hosts'),
    acceptNew: options.acceptNew,
    hashNew: options.hashKnownHosts,
  }
  const verifier = await makeHostVerifier(label, ep.host, ep.port, policy)
  const identityFiles = [options.identityFile, ...ep.identityFiles].filter((f): f is string => !!f)
  const agentSocket = options.agentSocket === null ? undefined : (options.agentSocket ?? process.env.SSH_AUTH_SOCK)
  const auth = await planAuth({user: ep.user, agentSocket, identityFiles, home})
  const {Client} = await loadSsh2()
  if ((sock as EarlySocket | undefined)?.failed) {
    sock!.destroy()
    sock = undefined
  }
  const config: ConnectConfig = {
    ...clientConfig(ep, options, verifier.knownTypes),
    sock,
    hostVerifier: verifier.verify,
    authHandler: auth.methods,
  }
  return new Promise<Client>((resolve, reject) => {
    const client = new Client()
    let ready = false
    client.once('ready', () => {
      ready = true
      resolve(client)
    })
    client.on('error', (err: Error & {level?: string; code?: string}) => {
      if (ready) return // later errors surface through run()/openTcp() on the closed connection
      ;(client as unknown as {_sock?: Duplex})._sock?.destroy() // a failed handshake must not keep the process alive
      reject(describeFailure(label, ep, err, verifier.refusal(), auth.tried, options))
    })
    client.once('close', () => {
      if (!ready) reject(new ConnectionError(label, `connection to ${ep.host}:${ep.port} closed before the SSH session was ready`))
    })
    client.connect(config)
    // ssh2 leaves Nagle on, and sshd sets TCP_NODELAY only for sessions with a terminal: each small packet
    // after the first waited for the host's delayed ACK (40 ms at rest): "echo hi" took 47 ms, 4.5 ms without.
    client.setNoDelay(true)
  })
}

function describeFailure(label: string, ep: Endpoint, err: Error & {level?: string; code?: string}, refusal: ConnectionError | undefined, tried: string[], options: ConnectOptions): ConnectionError {
  if (refusal) return refusal
  const at = `${ep.user}@${ep.host}:${ep.port}`
  if (err.level === 'client-authentication') {
    return new ConnectionError(label, `authentication failed for ${at}; tried:\n${tried.map((t) => `  - ${t}`).join('\n')}`,
      `make sure the public key of one of these is in ~${ep.user}/.ssh/authorized_keys on the host, or set ssh.identityFile in the inventory`)
  }
  if (err.level === 'client-timeout') {
    return new ConnectionError(label, `no SSH handshake with ${ep.host}:${ep.port} within ${options.connectTimeoutSeconds ?? 15} s`,
      'check that the host is up and sshd listens on that port, or raise ssh.connectTimeoutSeconds')
  }
  if (err.code && /^E[A-Z]+$/.test(err.code)) {
    return new ConnectionError(label, `cannot reach ${ep.host}:${ep.port} (${err.code})`, 'check the address, the port and any firewall in between')
  }
  return new ConnectionError(label, `SSH connection to ${at} failed: ${err.message}`)
}

/** Inventory `ssh:` section -> options; `name` is the inventory host name. */
export function connectOptionsFrom(ssh: {identityFile?: string; knownHostsFile?: string; configFile?: string; connectTimeoutSeconds?: number}, name: string, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {name, identityFile: ssh.identityFile, knownHostsFile: ssh.knownHostsFile, configFile: ssh.configFile, connectTimeoutSeconds: ssh.connectTimeoutSeconds, ...extra}
}

