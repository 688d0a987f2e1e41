// The node + ssh2 floor: the OpenSSH floor's per-host scripts (bench/lib/floor.ts) run by a bare Node process
// through ssh2, the runtime and SSH library mesh is built on, with nothing else loaded. Its time minus the OpenSSH
// floor's is what Node's start-up and ssh2 cost before mesh does anything of its own; mesh against this floor is
// what mesh itself adds (its CLI framework, reading and checking the inventory and state, the facts, the plan).
// Plain JavaScript, run by `node` directly (no tsx), so it loads only node and ssh2.
// Run: node bench/lib/ssh2-floor.mjs SPEC.json   SPEC: {identityFile, knownHostsFile, hosts: [{address, port, user, script}]}
// Every host at once: connect (the host key checked against known_hosts, fail closed), `sh -s` with the host's
// script on stdin, its exit status. Exits 1 on any failure, with the host's output on stderr.
import {Buffer} from 'node:buffer'
import {readFileSync} from 'node:fs'
import ssh2 from 'ssh2'

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const privateKey = readFileSync(spec.identityFile)
const known = readFileSync(spec.knownHostsFile, 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).filter((w) => w.length >= 3 && !w[0].startsWith('#'))

/** The known_hosts keys for a host (`addr` on port 22, `[addr]:port` otherwise), as raw key blobs. */
function keysFor(address, port) {
  const name = port === 22 ? address : `[${address}]:${port}`
  return known.filter((w) => w[0].split(',').includes(name)).map((w) => Buffer.from(w[2], 'base64'))
}

function run(host) {
  return new Promise((resolve, reject) => {
    const keys = keysFor(host.address, host.port)
    const client = new ssh2.Client()
    let output = ''
    client.on('error', (err) => reject(new Error(`${host.address}: ${err.message}`)))
    client.on('ready', () => {
      client.exec('sh -s', (err, stream) => {
        if (err) return reject(err)
        stream.on('data', (d) => (output += d)).stderr.on('data', (d) => (output += d))
        stream.on('close', (code) => {
          client.end()
          if (code === 0) resolve()
          else reject(new Error(`${host.address}: exited ${code}: ${output.slice(0, 400)}`))
        })
        stream.end(readFileSync(host.script))
      })
    })
    client.connect({
      host: host.address,
      port: host.port,
      username: host.user,
      privateKey,
      hostVerifier: (key) => keys.some((k) => k.equals(key)),
      readyTimeout: 60_000,
    })
  })
}

try {
  await Promise.all(spec.hosts.map(run))
} catch (err) {
  console.error(err.message)
  process.exitCode = 1
}
