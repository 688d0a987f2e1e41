// The write script when the connection dies under it (issue 8): what reaches the host is cut short, or nobody is left
// to read the reply. Either way no truncated file is installed and no temp file stays beside the target.
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

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

describe('RemoteHost.writeFile and .batch when the connection dies', () => {
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

  it('the batch stopped (SIGTERM, as sshd on a lost session) while it copies a file: no temp file stays', async () => {
    const dir = tmpDir()
    const path = join(dir, 'wg0.conf')
    writeFileSync(path, 'old\n')
    // A dd that says who started it (the batch's shell), then takes its time.
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    const realDd = execFileSync('sh', ['-c', 'command -v dd'], {encoding: 'utf8'}).trim()
    const started = join(bin, 'started')
    writeFileSync(join(bin, 'dd'), `#!/bin/sh\necho $PPID > '${started}.tmp' && mv '${started}.tmp' '${started}'\nsleep 2\nexec ${realDd} "$@"\n`, {mode: 0o755})
    const t = new LocalTransport('slow-dd', ['env', `PATH=${bin}:${process.env.PATH}`])
    const run = new RemoteHost(t, 'wg0').batch([{kind: 'write', path, content: 'new\n', mode: 0o600}])
    for (let i = 0; i < 200 && !existsSync(started); i++) await sleep(25)
    const shell = Number(readFileSync(started, 'utf8'))
    assert.ok(readdirSync(dir).some((f) => f.startsWith('wg0.conf.mesh-')), 'the temp file is there while dd runs')
    process.kill(shell, 'SIGTERM')
    const r = await run
    assert.notEqual(r.code, 0)
    assert.equal(r.outcome.done, false)
    assert.ok(['old\n', 'new\n'].includes(readFileSync(path, 'utf8')), 'old or new, never a mix')
    assert.deepEqual(readdirSync(dir).sort(), ['bin', 'wg0.conf'], 'no .mesh-* temp file left')
  })

  it('the batch with its stdin cut: nothing installed, no temp file', async () => {
    const dir = tmpDir()
    const path = join(dir, 'wg0.conf')
    writeFileSync(path, 'old\n')
    const r = await new RemoteHost(cutStdin(5), 'wg0').batch([{kind: 'write', path, content: 'PrivateKey = 0123456789abcdef\n', mode: 0o600}])
    assert.match(r.stderr, /short write/)
    assert.equal(readFileSync(path, 'utf8'), 'old\n')
    assert.deepEqual(readdirSync(dir), ['wg0.conf'])
  })
})
