// Honest summaries: hosts that could not be reached are named first, and "Nothing to change" is not printed.
// The hosts' SSH targets are a closed port on loopback: every connection is refused at once.
import assert from 'node:assert/strict'
import {createServer} from 'node:net'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {mesh, tmpDir} from './_cli.js'

/** A loopback port nothing listens on: bound once to learn a free number, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as {port: number}).port
  await new Promise((r) => srv.close(r))
  return port
}

describe('plan and apply with unreachable hosts', () => {
  it('say first how many hosts were not reached, and never "Nothing to change"', async () => {
    const port = await closedPort()
    const dir = tmpDir()
    const inv = join(dir, 'fleet.yaml')
    const hosts = ['Host-A', 'Host-B', 'Host-C'].map((n, i) => `  - {name: ${n}, endpoint: 198.18.0.${10 + i}, ssh: root@127.0.0.1:${port}}`)
    writeFileSync(inv, `network:\n  ipv4: 10.77.0.0/24\nssh:\n  connectTimeoutSeconds: 20\nhosts:\n${hosts.join('\n')}\n`)
    for (const args of [['plan'], ['apply', '--yes']]) {
      const r = mesh([...args, '-i', inv, '--no-diff'], {cwd: dir})
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`)
      assert.match(r.stdout, /^3 of 3 hosts unreachable: nothing was planned for them \(Host-A, Host-B, Host-C\)$/m, args[0])
      assert.doesNotMatch(r.stdout, /Nothing to change/, args[0])
    }
  })
})
