// ProxyCommand, as OpenSSH runs it: `exec <command>` through /bin/sh, its stdin and stdout carrying the SSH
// connection (handed to ssh2 as `sock`). Its stderr is kept for the error message when the connection fails.
import {spawn} from 'node:child_process'
import {Duplex} from 'node:stream'

export interface ProxyTokens {
  /** %h: the host name to connect to (after HostName). */
  host: string
  /** %p */
  port: number
  /** %r */
  user: string
  /** %n: the name as given (the inventory's ssh.host). */
  alias: string
}

/** %h %p %r %n and %% (the tokens OpenSSH documents for ProxyCommand that we know); others are refused. */
export function expandProxyCommand(command: string, t: ProxyTokens): string {
  return command.replace(/%(.)/g, (whole, c: string) => {
    switch (c) {
      case '%':
        return '%'
      case 'h':
        return t.host
      case 'p':
        return String(t.port)
      case 'r':
        return t.user
      case 'n':
        return t.alias
      default:
        throw new Error(`ProxyCommand token ${whole} is not supported (only %h, %p, %r, %n and %%)`)
    }
  })
}

export interface ProxyProcess {
  sock: Duplex
  /** What the command wrote to stderr (bounded), once it has exited (or after at most 1 s). */
  stderr(): Promise<string>
  /** Ends the command (after the SSH connection closed, or when it failed). */
  stop(): void
}

export function startProxyCommand(command: string): ProxyProcess {
  const child = spawn('/bin/sh', ['-c', `exec ${command}`], {stdio: ['pipe', 'pipe', 'pipe']})
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < 4096) err += d
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  }
  // A plain Duplex over the two pipes: when the command ends, its stdout ends and ssh2 sees the connection close.
  const sock = new Duplex({
    read() {
      child.stdout.resume()
    },
    write(chunk: Buffer, _enc, cb) {
      if (child.stdin.writable) child.stdin.write(chunk, () => cb())
      else cb()
    },
    final(cb) {
      child.stdin.end()
      cb()
    },
    destroy(e, cb) {
      stop()
      cb(e)
    },
  })
  child.stdout.on('data', (d: Buffer) => {
    if (!sock.push(d)) child.stdout.pause()
  })
  child.stdout.on('end', () => sock.push(null))
  child.on('error', (e) => sock.destroy(e))
  child.stdin.on('error', () => undefined)
  return {
    sock,
    stderr: async () => {
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000).unref())])
      return err.trim()
    },
    stop,
  }
}
