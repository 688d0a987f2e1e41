// Child process of close.test.ts (not a test itself): connects through the test's proxy, runs one command,
// says so on stdout, waits for the word "close" on stdin (the parent froze the peer by then), closes, prints
// the close result, and then must exit on its own: no process.exit, so any socket left open keeps it alive.
import {connect} from '../../src/remote/ssh.js'

const [port, keyFile, home] = process.argv.slice(2)
const t = await connect({host: '127.0.0.1', port: Number(port), user: 'root'}, {
  name: 'frozen-host', home, identityFile: keyFile, agentSocket: null, globalKnownHostsFile: null, connectTimeoutSeconds: 10,
})
const r = await t.run(['echo', 'done'])
process.stdout.write(`ran ${r.stdout.trim()}\n`)
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d: string) => {
  if (!d.includes('close')) return
  process.stdin.pause()
  process.stdin.unref()
  const t0 = Date.now()
  void t.close().then((res) => process.stdout.write(`closed ${JSON.stringify({...res, ms: Date.now() - t0})}\n`))
})
