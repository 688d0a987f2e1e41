// A Transport that runs commands on this machine (no shell: argv goes to spawn as is).
// Used by tests of the remote scripts, and as a building block for running inside lab namespaces.
import {spawn} from 'node:child_process'
import {connect as tcpConnect} from 'node:net'
import type {Duplex} from 'node:stream'

import {RunOptions, RunResult, Transport} from '../../src/remote/transport.js'

export class LocalTransport implements Transport {
  /** prefix: e.g. ['nsenter', '-t', pid, '-n', '-m', '-u', '--'] to run inside a lab host. */
  constructor(readonly name: string, private readonly prefix: string[] = []) {}

  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const full = [...this.prefix, ...argv]
    return new Promise((resolve, reject) => {
      const child = spawn(full[0], full.slice(1), {stdio: ['pipe', 'pipe', 'pipe']})
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout.on('data', (b: Buffer) => out.push(b))
      child.stderr.on('data', (b: Buffer) => err.push(b))
      const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined
      child.on('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')})
      })
      child.stdin.on('error', () => undefined)
      child.stdin.end(opts.stdin ?? '')
    })
  }

  openTcp(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({host, port}, () => resolve(socket))
      socket.once('error', reject)
    })
  }

  async close(): Promise<void> {}
}
