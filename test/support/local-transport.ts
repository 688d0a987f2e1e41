// A Transport that runs commands on this machine through execa (no shell: argv goes to the program as is).
// Used by tests of the remote scripts, optionally inside a namespace through a prefix (nsenter ...).
import {connect as tcpConnect} from 'node:net'
import type {Duplex} from 'node:stream'

import {execa} from 'execa'

import type {RunOptions, RunResult, Transport} from '../../src/remote/transport.js'

export class LocalTransport implements Transport {
  /** prefix: e.g. ['nsenter', '-t', pid, '-n', '-m', '-u', '--'] to run inside a lab host. */
  constructor(readonly name: string, private readonly prefix: string[] = []) {}

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const [program, ...args] = [...this.prefix, ...argv]
    const res = await execa(program, args, {
      input: opts.stdin ?? '',
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
      reject: false,
      stripFinalNewline: false,
    })
    // A program that could not start is an error (as from ssh), not an exit status.
    if (res.failed && res.exitCode === undefined && !res.isTerminated) throw new Error(res.shortMessage)
    return {code: res.exitCode ?? null, stdout: res.stdout, stderr: res.stderr}
  }

  openTcp(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({host, port}, () => resolve(socket))
      socket.once('error', reject)
    })
  }

  async close(): Promise<void> {}
}
