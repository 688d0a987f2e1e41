// The write script when the connection dies under it (issue 8): what reaches the host is cut short, or nobody is left
// to read the reply. Either way no truncated file is installed and no temp file stays beside the target.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {RemoteHost} from '../../src/remote/hostops.js'
import {LocalTransport} from '../support/local-transport.js'
import type {RunOptions, RunResult, Transport} from '../../src/remote/transport.js'
import {tmpDir} from '../support/helpers.js'

/** Only the first `keep` bytes of stdin arrive, as when the connection drops mid-upload. */
function cutStdin(keep: number): Transport {
  const local = new LocalTransport('cut')
  return {
    name: 'cut',
    run: (argv, opts: RunOptions = {}) => local.run(argv, {...opts, stdin: Buffer.from(opts.stdin ?? '').subarray(0, keep)}),
    openTcp: () => Promise.reject(new Error('no tcp')),
    close: async () => {},
  }
}

/** The reader of stdout goes away at once, as when sshd's session ends: the script's reply raises SIGPIPE. */
const deafTransport: Transport = {
  name: 'deaf',
  run: (argv: readonly string[], opts: RunOptions = {}) =>
    new Promise<RunResult>((resolve) => {
      const child = spawn(argv[0], argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe']})
      child.stdout.destroy()
      child.stderr.destroy()
      child.stdin.on('error', () => undefined)
      child.stdin.end(opts.stdin ?? '')
      child.on('close', (code, signal) => resolve({code, signal: signal ?? undefined, stdout: '', stderr: ''}))
    }),
  openTcp: () => Promise.reject(new Error('no tcp')),
  close: async () => {},
}

describe('RemoteHost.writeFile when the connection dies', () => {
  it('refuses to install a file whose content arrived cut short, and leaves no temp file', async () => {
    const dir = tmpDir()
    const path = join(dir, 'wg0.conf')
    writeFileSync(path, 'old\n')
    const host = new RemoteHost(cutStdin(10), 'wg0')
    await assert.rejects(host.writeFile(path, 'PrivateKey = 0123456789abcdef\n', 0o600), /short write/)
    assert.equal(readFileSync(path, 'utf8'), 'old\n')
    assert.deepEqual(readdirSync(dir), ['wg0.conf'])
  })

  it('cleans up its temp files when nobody reads the reply any more (SIGPIPE)', async () => {
    const dir = tmpDir()
    const path = join(dir, 'wg0.conf')
    writeFileSync(path, 'old\n')
    await new RemoteHost(deafTransport, 'wg0').writeFile(path, 'new\n', 0o600).catch(() => undefined)
    assert.equal(readFileSync(path, 'utf8'), 'new\n', 'the whole content arrived, so it was installed')
    assert.deepEqual(readdirSync(dir), ['wg0.conf'], 'no .mesh-* temp or .err file left')
  })
})
