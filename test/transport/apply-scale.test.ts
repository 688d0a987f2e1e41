// Apply at fleet scale (issue 15): a host's files are rendered when its facts are in and dropped once it is
// planned, and a planned no-op host keeps none of the contents it read. Checked on 1000 in-memory hosts that
// already run the mesh (each answers the facts round trip with init's own output for it), in a child process
// so the peak RSS measured is apply's own.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {tmpDir, toYaml} from '../support/helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function fleet(n: number) {
  return {
    network: {interface: 'wg0', ipv4: '10.64.0.0/20', persistentKeepalive: 25},
    hosts: Array.from({length: n}, (_, i) => ({name: `node-${i}`, endpoint: `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`})),
  }
}

const CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'apply-scale-child.mjs')

describe('apply at scale', () => {
  it('plans 1000 hosts that run the mesh as no-ops, holding no file contents and little memory', () => {
    // 1000 hosts: each config holds 999 peers (~120 KB), so rendering every host up front and keeping what each
    // host sent back held ~250 MB of strings; one host at a time it is a few hosts' worth at any moment.
    const n = 1000
    const dir = tmpDir()
    const file = join(dir, 'fleet.yaml')
    writeFileSync(file, toYaml(fleet(n)))
    const res = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, file, join(dir, 'out'), join(dir, 'state')], {cwd: ROOT, encoding: 'utf8', timeout: 600_000})
    assert.equal(res.status, 0, res.stderr)
    const got = JSON.parse(res.stdout.trim().split('\n').pop()!) as {hosts: number; unchanged: number; failed: string[]; heldBytes: number; heapAfterMiB: number; maxRssKiB: number}
    const rssMiB = got.maxRssKiB / 1024
    process.stderr.write(`apply preview of ${n} hosts: peak RSS ${rssMiB.toFixed(0)} MiB, heap after planning ${got.heapAfterMiB.toFixed(0)} MiB\n`)
    assert.equal(got.hosts, n)
    assert.deepEqual(got.failed, [], 'every host is planned as up to date')
    assert.equal(got.unchanged, n)
    assert.equal(got.heldBytes, 0, 'a planned no-op host keeps none of its facts (files, /etc/hosts, running peers)')
    // Before streaming: 234 MB of facts held after planning, peak RSS 1.6 GiB. The peak now is transient garbage of the
    // hosts in flight (and of this test's own fake hosts); what stays once every host is planned is the model.
    assert.ok(got.heapAfterMiB < 64, `heap after planning ${got.heapAfterMiB.toFixed(0)} MiB: the fleet's files or facts are still held`)
    assert.ok(rssMiB < 700, `peak RSS ${rssMiB.toFixed(0)} MiB for a no-op preview of ${n} hosts (1.6 GiB when every host was rendered up front)`)
  })
})
