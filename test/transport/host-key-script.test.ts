// Issue 16, the host side of network.keys: host run for real (local shell, real `wg`) with a temp dir bind-mounted
// over /etc/wireguard in a private mount namespace: the facts make the key (0600) and return only its public key,
// a config written with the placeholder gets the key on the host and reads back as the placeholder, a placeholder
// without its key file is refused (the file stays as it was), and a rotation's pending key is committed by rename.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {HOST_KEY, HOST_KEY_NEXT} from '../../src/core/host-keys.js'
import {hostKeyCommitScript} from '../../src/remote/host-key-script.js'
import {RemoteHost} from '../../src/remote/hostops.js'
import {LocalTransport} from '../support/local-transport.js'
import {tmpDir} from '../support/helpers.js'
import {isRoot, skipUnless} from '../support/prereq.js'

const hasWg = spawnSync('wg', ['--version']).status === 0
const skip = skipUnless(isRoot, 'needs root for a bind mount in a private namespace') || skipUnless(hasWg, 'needs wg (wireguard-tools)')

let holder: ReturnType<typeof spawn> | undefined
let dir = ''
const IF = 'bmkey0'
const CONF = `/etc/wireguard/${IF}.conf`
const host = () => new RemoteHost(new LocalTransport('ns', ['nsenter', '-t', String(holder!.pid), '-m', '--']), IF)
const pubOf = (file: string) => spawnSync('wg', ['pubkey'], {input: readFileSync(file), encoding: 'utf8'}).stdout.trim()
const config = (ref: string) => `[Interface]\nAddress = 10.0.0.1/24\nListenPort = 51820\nPrivateKey = ${ref}\n\n# B\n[Peer]\nPublicKey = x\n`

before(() => {
  if (skip) return
  dir = tmpDir()
  holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '600'], {stdio: 'ignore'})
  const mine = spawnSync('readlink', ['/proc/self/ns/mnt'], {encoding: 'utf8'}).stdout
  for (let i = 0; i < 200 && spawnSync('readlink', [`/proc/${holder.pid}/ns/mnt`], {encoding: 'utf8'}).stdout === mine; i++) spawnSync('sleep', ['0.05'])
  const r = spawnSync('nsenter', ['-t', String(holder.pid), '-m', '--', 'sh', '-c', `mkdir -p /etc/wireguard && mount --bind '${dir}' /etc/wireguard`], {encoding: 'utf8'})
  assert.equal(r.status, 0, r.stderr)
})
after(() => holder?.kill('SIGKILL'))

describe('host-made keys on a real shell', {skip}, () => {
  it('facts make the key (0600) and return its public key only; a preview makes nothing', async () => {
    const preview = await host().facts([CONF], {hostKey: {make: false, next: false}})
    assert.deepEqual(preview.hostKey, {current: null, next: null, made: false})
    const facts = await host().facts([CONF], {hostKey: {make: true, next: false}})
    const keyFile = join(dir, `${IF}.key`)
    assert.equal(statSync(keyFile).mode & 0o777, 0o600)
    assert.deepEqual(facts.hostKey, {current: pubOf(keyFile), next: null, made: true})
    const again = await host().facts([CONF], {hostKey: {make: true, next: false}})
    assert.equal(again.hostKey?.made, false, 'an existing key is kept')
  })

  it('a config written with the placeholder holds the key on disk and reads back as the placeholder', async () => {
    const how = await host().writeFile(CONF, config(HOST_KEY), 0o600)
    assert.equal(how, 'renamed')
    const key = readFileSync(join(dir, `${IF}.key`), 'utf8').trim()
    assert.equal(readFileSync(join(dir, `${IF}.conf`), 'utf8'), config(key))
    const facts = await host().facts([CONF], {hostKey: {make: false, next: false}})
    assert.equal(facts.files.get(CONF), config(HOST_KEY))
    assert.ok(!JSON.stringify({...facts, files: [...facts.files]}).includes(key), 'the key is not in the facts')
    assert.deepEqual(readdirNames(), [`${IF}.conf`, `${IF}.key`], 'no temp file left')
  })

  it('a placeholder without its key file is refused and the file stays as it was', async () => {
    const before = readFileSync(join(dir, `${IF}.conf`), 'utf8')
    await assert.rejects(host().writeFile(CONF, config(HOST_KEY_NEXT), 0o600), /bmkey0\.key\.next is missing on the host/)
    assert.equal(readFileSync(join(dir, `${IF}.conf`), 'utf8'), before)
    assert.deepEqual(readdirNames(), [`${IF}.conf`, `${IF}.key`])
  })

  it('a rotation: the host makes <if>.key.next, the config runs it, the commit renames it over <if>.key', async () => {
    const facts = await host().facts([CONF], {hostKey: {make: true, next: true}})
    const next = join(dir, `${IF}.key.next`)
    assert.equal(facts.hostKey?.next, pubOf(next))
    const nextKey = readFileSync(next, 'utf8').trim()
    await host().writeFile(CONF, config(HOST_KEY_NEXT), 0o600)
    assert.equal(readFileSync(join(dir, `${IF}.conf`), 'utf8'), config(nextKey))
    const committed = await host().commitHostKey(hostKeyCommitScript(IF))
    assert.equal(committed.current, facts.hostKey?.next)
    assert.ok(!existsSync(next))
    const after = await host().facts([CONF], {hostKey: {make: false, next: false}})
    assert.equal(after.files.get(CONF), config(HOST_KEY), 'the running config now matches the current key file')
  })
})

function readdirNames(): string[] {
  return spawnSync('ls', ['-A', dir], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean).sort()
}
