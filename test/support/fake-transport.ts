// An in-memory Transport for unit tests of planning and apply: run() is answered by a handler and
// every call is recorded. sudo wrapping goes through the same withSudo() as the real transport.
import {PassThrough} from 'node:stream'
import type {Duplex} from 'node:stream'
import {withSudo} from '../../src/remote/result.js'
import type {RunOptions, RunResult, Transport} from '../../src/remote/transport.js'

export interface FakeCall {
  /** The argv as the host would see it (with `env LC_ALL=C sudo -n --` when applicable). */
  argv: readonly string[]
  /** The argv the caller passed. */
  requested: readonly string[]
  stdin?: string
  opts: RunOptions
}

export type FakeHandler = (argv: readonly string[], stdin: string | undefined, call: FakeCall) => RunResult | Promise<RunResult>

export interface FakeOptions {
  /** The SSH user; 'root' (default) never gets sudo. */
  user?: string
  /** Answers openTcp(); by default a PassThrough loopback. */
  openTcp?: (host: string, port: number) => Duplex | Promise<Duplex>
}

export const ok = (stdout = '', stderr = ''): RunResult => ({code: 0, stdout, stderr})
export const fail = (code: number, stderr = '', stdout = ''): RunResult => ({code, stdout, stderr})

export class FakeTransport implements Transport {
  readonly calls: FakeCall[] = []
  readonly user: string
  closed = false

  constructor(readonly name: string, private readonly handler: FakeHandler, private readonly options: FakeOptions = {}) {
    this.user = options.user ?? 'root'
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (this.closed) throw new Error(`${this.name}: run() after close()`)
    if (argv.length === 0) throw new Error('empty command')
    const stdin = opts.stdin === undefined ? undefined : opts.stdin.toString()
    const call: FakeCall = {argv: withSudo(argv, this.user, opts.sudo), requested: argv, stdin, opts}
    this.calls.push(call)
    const r = await this.handler(call.argv, stdin, call)
    return {...r}
  }

  async openTcp(host: string, port: number): Promise<Duplex> {
    if (this.options.openTcp) return this.options.openTcp(host, port)
    return new PassThrough()
  }

  async close(): Promise<void> {
    this.closed = true
  }

  /** The recorded commands as single strings, handy for assertions. */
  commands(): string[] {
    return this.calls.map((c) => c.argv.join(' '))
  }
}

/** A handler from a table: first matching prefix (argv joined by spaces) answers; else exit 127. */
export function scripted(table: Array<[prefix: string, result: RunResult | ((argv: readonly string[], stdin?: string) => RunResult)]>): FakeHandler {
  return (argv, stdin) => {
    const line = argv.join(' ')
    for (const [prefix, result] of table) {
      if (line === prefix || line.startsWith(`${prefix} `)) return typeof result === 'function' ? result(argv, stdin) : result
    }
    return {code: 127, stdout: '', stderr: `fake: no answer for \`${line}\``}
  }
}
