// Init at fleet scale: memory bounded by one host's files (streamed), public keys cached in state.json
// behind a check that any edit of the key file or of the cached key defeats.
import assert from 'node:assert/strict'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {WgKeyPair, generatePrivateKey, keyCheckOf, publicKeyOf} from '../../src/core/wgkeys.js'
import {runInit} from '../../src/services/init.js'
import {loadMesh} from '../../src/services/mesh.js'
import {StateStore, stableJson} from '../../src/state/store.js'
import {baseInventory, tmpDir, toYaml} from '../support/helpers.js'
import {spawnMeasured} from '../support/max-rss.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** n hosts in 198.18.0.0/15 (benchmark range); a /20 holds them. */
function fleet(n: number) {
  return {
    network: {interface: 'wg0', ipv4: '10.64.0.0/20', ipv6: 'fd64:64::/64', persistentKeepalive: 25},
    hosts: Array.from({length: n}, (_, i) => ({name: `node-${i}`, endpoint: `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`})),
  }
}

// Old space is capped well under what rendering every host at once needs (680-850 MiB at 1000 hosts):
// a CLI that went back to holding the fleet's output dies of heap exhaustion instead of passing.
const HEAP_CAP_MIB = 128

/** `mesh init --json` of the built CLI under the heap cap: its result and the process's peak RSS. */
async function initUnderCap(file: string): Promise<{written: number; maxRssMiB: number}> {
  const run = await spawnMeasured([`--max-old-space-size=${HEAP_CAP_MIB}`], [join(ROOT, 'bin', 'run.js'), 'init', '-i', file, '--json'], {timeoutMs: 300_000})
  const why = `status ${run.status}, signal ${run.signal}${run.hung ? `, ${run.hung}` : ''}\n${run.stderr.slice(-4000)}`
  assert.equal(run.status, 0, `mesh init under a ${HEAP_CAP_MIB} MiB heap cap: ${why}`)
  assert.ok(run.maxRssMiB !== null, `no peak RSS reported: ${why}`)
  return {written: (JSON.parse(run.stdout) as {written: unknown[]}).written.length, maxRssMiB: run.maxRssMiB}
}

describe('init at scale', () => {
  it('renders and writes 1000 hosts one at a time: peak memory stays far below the fleet\'s output', async () => {
    // 1000 hosts: ~1000 x 999 peer sections = about 170 MB of configs. Rendered all at once (as before
    // streaming) the peak was 680-850 MiB; streamed it is one config plus the model. The built CLI runs in a
    // process of its own (its memory is its own, and it is what an operator runs).
    const n = 1000
    const dir = tmpDir()
    const file = join(dir, 'fleet.yaml')
    writeFileSync(file, toYaml(fleet(n)))
    const cold = await initUnderCap(file)
    const rerun = await initUnderCap(file)
    // Per host: wg0.conf, env.sh, vm.args, libcluster.exs; plus hosts.block and state.json.
    assert.equal(cold.written, n * 4 + 2, 'every host\'s files and the state were written')
    assert.equal(rerun.written, 0, 'a re-run changes nothing')
    const out = join(dir, 'out', 'fleet')
    assert.equal(readdirSync(out).filter((e) => e.startsWith('node-')).length, n)
    for (const i of [0, 499, n - 1]) {
      const conf = readFileSync(join(out, `node-${i}`, 'wg0.conf'), 'utf8')
      assert.equal(conf.match(/^\[Peer\]$/gm)?.length, n - 1, `node-${i} has every other host as a peer`)
      assert.ok(!conf.includes(`# node-${i}\n`), `node-${i} is not its own peer`)
    }
    const figures = `peak RSS ${cold.maxRssMiB.toFixed(0)} MiB cold, ${rerun.maxRssMiB.toFixed(0)} MiB re-run, for ${n} hosts`
    console.log(`init-scale: ${figures}`)
    // Generous (about 150 MiB here): code and GC slack come on top of the capped heap.
    assert.ok(Math.max(cold.maxRssMiB, rerun.maxRssMiB) < 512, `${figures}; streamed rendering should stay far below 512 MiB`)
  })

  it('takes a public key from state.json while its keyCheck matches the key file, and derives it when either changed', () => {
    const dir = tmpDir()
    const file = join(dir, 'inventory.yaml')
    writeFileSync(file, toYaml(baseInventory(3)))
    const stateDir = join(dir, 'state')
    const store = new StateStore(stateDir)
    runInit({inventoryFile: file, stateDir, outDir: join(dir, 'out')})
    const state = () => JSON.parse(readFileSync(store.stateFile, 'utf8'))
    const key = (h: string) => store.readSecret(store.keyFile(h))!
    const first = state()
    for (const h of ['Host-A', 'Host-B', 'Host-C']) {
      // Made keys come with their public key (not derived again): it is the one their file derives.
      assert.equal(first.hosts[h].publicKey, publicKeyOf(key(h)), h)
      assert.equal(first.hosts[h].keyCheck, keyCheckOf(key(h), publicKeyOf(key(h))))
    }

    // A cached key that matches its check is used as it is: proof that nothing is derived on a re-run.
    const planted = publicKeyOf(generatePrivateKey())
    first.hosts['Host-A'] = {...first.hosts['Host-A'], publicKey: planted, keyCheck: keyCheckOf(key('Host-A'), planted)}
    writeFileSync(store.stateFile, stableJson(first), {mode: 0o600})
    const cached = runInit({inventoryFile: file, stateDir, outDir: join(dir, 'out')})
    assert.equal(cached.hosts.find((h) => h.name === 'Host-A')!.publicKey, planted)

    // publicKey edited by hand (check left as it was): derived again, the edit is noted and undone.
    const edited = state()
    edited.hosts['Host-A'].publicKey = publicKeyOf(generatePrivateKey())
    // Host-B's key file replaced outside mesh: derived again from the new file.
    const newKey = generatePrivateKey()
    writeFileSync(store.keyFile('Host-B'), `${newKey}\n`, {mode: 0o600})
    writeFileSync(store.stateFile, stableJson(edited), {mode: 0o600})
    const again = runInit({inventoryFile: file, stateDir, outDir: join(dir, 'out')})
    const byName = new Map(again.hosts.map((h) => [h.name, h.publicKey]))
    assert.equal(byName.get('Host-A'), publicKeyOf(key('Host-A')))
    assert.equal(byName.get('Host-B'), publicKeyOf(newKey))
    assert.equal(again.notes.filter((n) => n.includes('key file changed outside mesh')).length, 2, again.notes.join('\n'))
    const after = state()
    assert.equal(after.hosts['Host-B'].keyCheck, keyCheckOf(newKey, publicKeyOf(newKey)))
    assert.equal(after.hosts['Host-A'].publicKey, publicKeyOf(key('Host-A')))
  })

  it('a preview records the keys it makes, and the load that persists writes those same keys', () => {
    const dir = tmpDir()
    const file = join(dir, 'inventory.yaml')
    writeFileSync(file, toYaml(baseInventory(3)))
    const stateDir = join(dir, 'state')
    const keysMade = new Map<string, WgKeyPair>()
    const preview = loadMesh({inventoryFile: file, stateDir, persist: false, preview: true, keysMade})
    assert.deepEqual([...keysMade.keys()].sort(), ['Host-A', 'Host-B', 'Host-C'])
    assert.deepEqual(readdirSync(dir), ['inventory.yaml'], 'the preview wrote nothing')
    const loaded = loadMesh({inventoryFile: file, stateDir, keysMade})
    const store = new StateStore(stateDir)
    for (const [h, pair] of keysMade) {
      assert.equal(store.readSecret(store.keyFile(h)), pair.privateKey, `${h}: the key file holds the previewed key`)
      assert.equal(loaded.mesh.hosts.find((x) => x.name === h)!.publicKey, pair.publicKey)
      assert.equal(preview.mesh.hosts.find((x) => x.name === h)!.publicKey, pair.publicKey, `${h}: the preview showed the same public key`)
    }
    assert.deepEqual(loaded.createdKeys.sort(), ['Host-A', 'Host-B', 'Host-C'])
  })
})
