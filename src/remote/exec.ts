// One command over one ssh2 exec channel: stdin written then ended (so commands reading to EOF
// finish), output captured as utf8, and a timeout that closes the channel rather than waiting forever.
import {appendFileSync} from 'node:fs'
import {StringDecoder} from 'node:string_decoder'
import type {Client, ClientChannel} from 'ssh2'
import {ConnectionError} from '../core/errors.js'
import {CommandTimeoutError} from './result.js'
import type {RunResult} from './transport.js'

export interface ExecRequest {
  /** The transport name, for errors. */
  where: string
  /** The already quoted command line (see commandLine()). */
  command: string
  stdin?: string | Buffer
  timeoutMs?: number
}

/**
 * Test hook, off unless MESH_TRANSPORT_SPY names a file: every byte sent (command line, stdin) and received
 * (stdout, stderr) over exec channels is appended to it, so a test can prove what never crossed the wire.
 */
const spyFile = process.env.MESH_TRANSPORT_SPY
// Read once: a lookup in process.env on every chunk cost a 16-host doctor 60 ms of CPU.
const spy = (bytes: string | Buffer | undefined) => {
  if (spyFile && bytes !== undefined) appendFileSync(spyFile, bytes, {mode: 0o600})
}

/**
 * MESH_DEBUG_REMOTE=1: one stderr line per remote command (host, round trip time, the command's first words), to
 * count and time round trips. Never the stdin (file contents, keys) and only the start of the command line.
 */
const trace = process.env.MESH_DEBUG_REMOTE === '1'

export function execCommand(client: Client, req: ExecRequest): Promise<RunResult> {
  spy(req.command)
  if (!trace) return exec(client, req)
  const t0 = performance.now()
  const done = () => process.stderr.write(`[remote] ${req.where} ${(performance.now() - t0).toFixed(0)} ms ${req.command.replace(/\s+/g, ' ').slice(0, 60)}\n`)
  return exec(client, req).finally(done)
}

function exec(client: Client, req: ExecRequest): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    const cannotStart = (e: Error) => new ConnectionError(req.where, `cannot start \`${req.command}\`: ${e.message}`)
    try {
      // The listeners must be attached inside this callback, synchronously: ssh2 calls it while
      // parsing the CHANNEL_SUCCESS packet, and the same socket chunk may already carry the
      // command's output, exit-status, EOF and CLOSE. 'exit' is a plain event, not buffered like
      // stream data, so a listener attached a microtask later (after an await) would miss it.
      client.exec(req.command, (err, channel) => {
        if (err) reject(cannotStart(err))
        else collect(channel, req, resolve, reject)
      })
    } catch (err) {
      // ssh2 throws synchronously when the connection is already gone.
      reject(cannotStart(err as Error))
    }
  })
}

function collect(channel: ClientChannel, req: ExecRequest, resolve: (r: RunResult) => void, reject: (e: Error) => void): void {
  const out = new StringDecoder('utf8')
  const err = new StringDecoder('utf8')
  let stdout = ''
  let stderr = ''
  let exit: {code: number | null; signal?: string} | undefined
  let timer: NodeJS.Timeout | undefined
  let settled = false
  const settle = (fn: () => void) => {
    if (settled) return
    settled = true
    if (timer) clearTimeout(timer)
    fn()
  }
  if (req.timeoutMs !== undefined && req.timeoutMs > 0) {
    timer = setTimeout(() => {
      // Ask the server to kill the process (OpenSSH >= 7.9 honours it), then drop the channel.
      try {
        channel.signal('KILL')
      } catch {
        // the channel is already gone: closing it below is all that is left
      }
      channel.close()
      settle(() => reject(new CommandTimeoutError(req.where, req.command, req.timeoutMs!)))
    }, req.timeoutMs)
  }
  channel.on('data', (d: Buffer) => (spy(d), (stdout += out.write(d))))
  channel.stderr.on('data', (d: Buffer) => (spy(d), (stderr += err.write(d))))
  channel.on('exit', (code: number | null, signal?: string) => {
    exit = code === null ? {code: null, signal} : {code}
  })
  channel.on('error', (e: Error) => settle(() => reject(new ConnectionError(req.where, `\`${req.command}\`: ${e.message}`))))
  channel.on('close', () => {
    settle(() => {
      stdout += out.end()
      stderr += err.end()
      if (!exit) {
        reject(new ConnectionError(req.where, `connection lost while running \`${req.command}\` (no exit status)`))
        return
      }
      resolve({...exit, stdout, stderr})
    })
  })
  spy(req.stdin)
  if (req.stdin !== undefined) channel.end(req.stdin)
  else channel.end()
}
