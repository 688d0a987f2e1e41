// The child of apply-scale.test.ts, in a process of its own so its peak RSS is apply's own: init, then a
// preview apply against hosts that answer the facts as if init's output were applied (files in place with their
// modes, /etc/hosts with the block, wg0 running with every peer of the config). A file, not `node -e`: a child
// started with --input-type=module -e under tsx once hung idle at start-up on this machine.
// Prints one JSON line. Args: inventory file, output dir, state dir.

import {Buffer} from 'node:buffer'
import {readFileSync, existsSync} from 'node:fs'
import {basename, join} from 'node:path'
import {runInit} from '../../src/services/init.ts'
import {prepareApply, planResult} from '../../src/services/apply.ts'
import {FakeTransport, ok, fail} from '../support/fake-transport.ts'

const [file, outDir, stateDir] = process.argv.slice(-3)
runInit({inventoryFile: file, stateDir, outDir})
const M = '@@beam-mesh'
const b64 = (s) => Buffer.from(s, 'latin1').toString('base64')
const block = readFileSync(join(outDir, 'hosts.block'), 'latin1')
// What init wrote for the host, where apply puts it; other managed paths (legacy ones, the firewall) are absent.
function local(host, path) {
  if (path === '/etc/beam-mesh/wg0/cookie') return join(stateDir, 'secrets', 'cookie')
  if (path === '/etc/wireguard/wg0.conf' || path.startsWith('/etc/beam-mesh/wg0/')) return join(outDir, host, basename(path))
  return null
}
function facts(host, paths) {
  const out = []
  for (const p of paths) {
    const f = local(host, p)
    if (!f || !existsSync(f)) continue
    out.push(M + ' file ' + p, b64(readFileSync(f, 'latin1')), M + ' end', M + ' meta root ' + (p.endsWith('.conf') || p.endsWith('/cookie') ? '600' : '644') + ' ' + p)
  }
  out.push(M + ' hosts', b64('127.0.0.1\tlocalhost\n' + block), M + ' end')
  const conf = readFileSync(join(outDir, host, 'wg0.conf'), 'latin1')
  const peers = conf.split('[Peer]').slice(1).map((s) => ({key: /PublicKey = (\S+)/.exec(s)[1], ips: /AllowedIPs = (.*)/.exec(s)[1].split(', ').join(' ')}))
  out.push(M + ' wg', ...peers.map((p) => p.key + '\t' + p.ips), M + ' end')
  out.push(M + ' keepalive', ...peers.map((p) => p.key + '\t25'), M + ' end')
  out.push(M + ' port ' + /ListenPort = (\d+)/.exec(conf)[1])
  return out.join('\n') + '\n'
}
const connect = async (h) => new FakeTransport(h.name, (argv) => {
  if (argv[0] === 'sh' && argv[4] === 'wg0') return ok(facts(h.name, argv.slice(6)))
  return fail(1, 'not expected in a no-op preview: ' + argv.slice(0, 2).join(' '))
})
const session = await prepareApply({inventoryFile: file, stateDir, dryRun: true}, () => connect)
const result = planResult(session)
const size = (files) => [...files.values()].reduce((m, c) => m + (c ? c.length : 0), 0)
const held = session.sessions.reduce((n, s) => n + (s.facts ? size(s.facts.files) + s.facts.hosts.length + 1 : 0) + (s.rollback ? size(s.rollback.files) : 0), 0)
await session.close()
globalThis.gc()
const heapAfterMiB = process.memoryUsage().heapUsed / 1048576
console.log(JSON.stringify({heapAfterMiB, hosts: result.hosts.length, unchanged: result.hosts.filter((h) => h.status === 'unchanged').length,
  failed: result.hosts.filter((h) => h.status !== 'unchanged').map((h) => h.name + ': ' + (h.error ?? h.files.map((f) => f.path + ':' + f.kind).join(','))).slice(0, 3),
  heldBytes: held, maxRssKiB: process.resourceUsage().maxRSS}))
