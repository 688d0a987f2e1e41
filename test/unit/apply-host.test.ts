// The per-host executor with a recording stub host: retired files (deactivate, remove; restored and
// re-activated on rollback), owners passed through and put back, a created file's activation undone.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {beamManaged, beamPaths, firewallDeactivate} from '../../src/core/beam-paths.js'
import {FileChange, RollbackFacts, HostPlan} from '../../src/core/plan.js'
import {BatchOp, encodeBatch} from '../../src/remote/batch.js'
import type {RemoteHost} from '../../src/remote/hostops.js'
import {executeHostPlan} from '../../src/services/apply-host.js'

const BEAM_PATHS = beamPaths('wg0')
const FIREWALL_DEACTIVATE = firewallDeactivate('beam_mesh_wg0')
const firewall = beamManaged('wg0').find((m) => m.path === BEAM_PATHS.firewall)!
const facts: RollbackFacts = {wasUp: true, files: new Map()}
const ctx = {iface: 'wg0', peers: ['P='], progress: () => {}}
const plan = (files: FileChange[]): HostPlan => ({name: 'Host-A', files, iface: {kind: 'none'}, enableUnit: false, reactivate: [], disruptive: false})

/**
 * Records every call; `peers` is what the verification after the changes sees (null: fails). Its batch runs
 * each step through the single-step methods below (so a test that makes one of them fail fails that step), and
 * reports as the host script does: the step that failed, or done.
 */
function stubHost(peers: string[] | null) {
  const calls: string[] = []
  const host = {
    iface: 'wg0',
    t: {name: 'Host-A'},
    async batch(ops: BatchOp[]) {
      const {want} = encodeBatch(ops)
      const wrote = new Map<number, {how: string; sha: string}>()
      let seen: string[] | null | undefined
      for (const [i, op] of ops.entries()) {
        try {
          if (op.kind === 'write') wrote.set(i, {how: await host.writeFile(op.path, op.content, op.mode, op.owner), sha: want.get(i)!})
          else if (op.kind === 'remove') await host.removeFile(op.path)
          else if (op.kind === 'run') await host.run(op.argv)
          else if (op.kind === 'verify') seen = await host.runningPeers()
          else await host.run(['wg-quick', op.kind, 'wg0'])
        } catch (e) {
          return {outcome: {started: i, done: false, wrote}, want, code: 1, stderr: (e as Error).message}
        }
      }
      return {outcome: {started: ops.length - 1, done: true, wrote, peers: seen}, want, code: 0, stderr: ''}
    },
    async writeFile(path: string, content: string, mode: number, owner?: string) {
      calls.push(`write ${path} ${JSON.stringify(content)} ${mode.toString(8)}${owner ? ` ${owner}` : ''}`)
      return 'renamed'
    },
    async removeFile(path: string) {
      calls.push(`rm ${path}`)
    },
    async run(argv: string[]) {
      calls.push(`run ${argv.join(' ')}`)
      return ''
    },
    async runningPeers(): Promise<string[] | null> {
      return peers
    },
  }
  return {host: host as unknown as RemoteHost, calls}
}

describe('executeHostPlan: a write that fails midway', () => {
  it('is rolled back like a finished one: the old bytes are written back, and only then "restored"', async () => {
    const {host, calls} = stubHost(['P='])
    let first = true
    const write = host.writeFile.bind(host)
    host.writeFile = async (path, content, mode, owner) => {
      if (first) {
        first = false
        calls.push(`write ${path} failed midway`)
        throw new Error('Host-A: write /etc/hosts: No space left on device')
      }
      return write(path, content, mode, owner)
    }
    const hosts: FileChange = {path: '/etc/hosts', kind: 'update', before: 'old\n', after: 'new\n', mode: 0o644, secret: false}
    const r = await executeHostPlan(host, plan([hosts]), facts, ctx)
    assert.equal(r.status, 'restored', r.error)
    assert.deepEqual(calls, ['write /etc/hosts failed midway', 'write /etc/hosts "old\\n" 644'])
    assert.match(r.notes.join('\n'), /checked by sha256/)
  })
})

const retired: FileChange = {path: firewall.path, kind: 'delete', before: 'table', after: '', mode: 0o644, secret: true, beforeMeta: {owner: 'root', mode: 0o644}, activate: firewall.activate, deactivate: firewall.deactivate}

describe('executeHostPlan: retired files', () => {
  it('unloads, then removes the file', async () => {
    const {host, calls} = stubHost(['P='])
    const r = await executeHostPlan(host, plan([retired]), facts, ctx)
    assert.equal(r.status, 'changed')
    assert.deepEqual(r.files, [{path: firewall.path, kind: 'delete', how: 'removed'}])
    assert.deepEqual(calls, [`run ${FIREWALL_DEACTIVATE.join(' ')}`, `rm ${firewall.path}`])
  })

  it('on failure writes the file back (mode kept) and loads it again', async () => {
    const {host, calls} = stubHost(null)
    const r = await executeHostPlan(host, plan([retired]), facts, ctx)
    assert.equal(r.status, 'restored', r.error)
    assert.deepEqual(calls.slice(2), [`write ${firewall.path} "table" 644`, `run nft -f ${firewall.path}`])
  })
})

describe('executeHostPlan: owners and activation on rollback', () => {
  const cookie: FileChange = {path: BEAM_PATHS.cookie, kind: 'update', before: 'c\n', after: 'c\n', mode: 0o400, secret: true, owner: 'nobody', beforeMeta: {owner: 'app', mode: 0o400}}
  const created: FileChange = {path: firewall.path, kind: 'create', before: null, after: 'table', mode: 0o644, secret: false, activate: firewall.activate, deactivate: firewall.deactivate}

  it('passes the owner, and on failure puts the previous owner back and undoes a created file\'s activation', async () => {
    const {host, calls} = stubHost(null)
    const r = await executeHostPlan(host, plan([cookie, created]), facts, ctx)
    assert.equal(r.status, 'restored', r.error)
    // The mesh's BEAM directory this apply may have created goes too, if empty (rmdir).
    const rmdir = calls.findIndex((c) => c.startsWith('run sh -c') && c.endsWith(' mesh /etc/beam-mesh/wg0'))
    assert.equal(rmdir, 5, calls.join('\n'))
    assert.deepEqual(calls.filter((_, i) => i !== rmdir), [
      `write ${BEAM_PATHS.cookie} "c\\n" 400 nobody`,
      `write ${firewall.path} "table" 644`,
      `run nft -f ${firewall.path}`,
      // rollback, newest first; then activations
      `rm ${firewall.path}`,
      `write ${BEAM_PATHS.cookie} "c\\n" 400 app`,
      `run ${FIREWALL_DEACTIVATE.join(' ')}`,
    ])
  })

  it('gives a file root back (no owner) when root owned it before', async () => {
    const {host, calls} = stubHost(null)
    await executeHostPlan(host, plan([{...cookie, beforeMeta: {owner: 'root', mode: 0o600}}]), facts, ctx)
    assert.equal(calls.at(-1), `write ${BEAM_PATHS.cookie} "c\\n" 600`)
  })
})
