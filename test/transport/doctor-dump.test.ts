// The wg dump doctor reads on every host (DUMP_SCRIPT), run for real with the local shell and a wg that prints a
// dump with real-looking keys: the private key and the preshared keys never come back, everything else does.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {parseWgDump} from '../../src/core/wgdump.js'
import {DUMP_SCRIPT, PROBE_SCRIPT, parsePingReports} from '../../src/services/doctor-probe.js'
import {tmpDir} from '../support/helpers.js'

const key = (c: string) => `${c.repeat(42)}A=`
const PRIVATE = key('p')
const PRESHARED = key('s')

/** A folder holding a `wg` that prints `dump` for `wg show bmtest0 dump` (and fails otherwise). */
function fakeWg(dump: string[]): string {
  const dir = tmpDir()
  const lines = dump.map((l) => `'${l}'`).join(' ')
  writeFileSync(join(dir, 'wg'), `#!/bin/sh\n[ "$1 $2 $3" = "show bmtest0 dump" ] || exit 1\nprintf '%s\\n' ${lines}\n`, {mode: 0o755})
  return dir
}

/**
 * The whole probe script with the `ping` in dir: no erl, a dump that fails (no interface here), the given peers and
 * one name to resolve.
 */
const runProbe = (dir: string, peers: string[]) =>
  spawnSync('sh', ['-c', PROBE_SCRIPT, 'mesh', '', 'bmtest0', 'exit 1', '', ...peers, '--', 'localhost', '--'], {encoding: 'utf8', env: {...process.env, PATH: `${dir}:${process.env.PATH}`}})

const runDump = (dir: string) =>
  spawnSync('sh', ['-c', DUMP_SCRIPT, 'mesh', 'bmtest0'], {encoding: 'utf8', env: {...process.env, PATH: `${dir}:${process.env.PATH}`}})

describe('doctor dump script', () => {
  it('hides the private key and every preshared key on the host; the rest parses as before', () => {
    const dir = fakeWg([
      `${PRIVATE}\t${key('a')}\t51820\toff`,
      `${key('b')}\t${PRESHARED}\t192.0.2.2:51820\t10.9.0.2/32,fd00::2/128\t1700000000\t10\t20\t25`,
      `${key('c')}\t(none)\t(none)\t10.9.0.3/32\t0\t0\t0\toff`,
    ])
    const r = runDump(dir)
    assert.equal(r.status, 0, r.stderr)
    assert.doesNotMatch(r.stdout, new RegExp(`${PRIVATE.slice(0, 20)}|${PRESHARED.slice(0, 20)}`))
    const dump = parseWgDump(r.stdout)
    assert.ok(dump.ok, JSON.stringify(dump))
    assert.deepEqual(dump.value.interface, {publicKey: key('a'), listenPort: 51820, fwmark: null})
    assert.deepEqual(
      dump.value.peers.map((p) => [p.publicKey, p.presharedKey, p.endpoint, p.allowedIps, p.latestHandshake, p.keepalive]),
      [
        [key('b'), true, '192.0.2.2:51820', ['10.9.0.2/32', 'fd00::2/128'], 1700000000, 25],
        [key('c'), false, null, ['10.9.0.3/32'], 0, null],
      ],
    )
  })

  it('exits non-zero when wg fails and prints nothing (the interface is down)', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'wg'), '#!/bin/sh\necho "Unable to access interface: No such device" >&2\nexit 1\n', {mode: 0o755})
    const r = runDump(dir)
    assert.notEqual(r.status, 0)
    assert.equal(r.stdout, '')
  })

  it('reads each ping report from interleaved output, by the address it names', () => {
    const out = [
      'PING 10.9.0.2 (10.9.0.2) 56(84) bytes of data.',
      'PING fd00::3 (fd00::3) 56 data bytes',
      '',
      '--- fd00::3 ping statistics ---',
      '3 packets transmitted, 2 received, 33.3333% packet loss, time 402ms',
      'rtt min/avg/max/mdev = 0.030/0.040/0.050/0.010 ms',
      'PING 10.9.0.4 (10.9.0.4) 56(84) bytes of data.',
      '',
      '--- 10.9.0.2 ping statistics ---',
      '3 packets transmitted, 0 received, 100% packet loss, time 2040ms',
      '',
    ].join('\n')
    assert.deepEqual([...parsePingReports(out)], [
      ['fd00::3', {sent: 3, received: 2}],
      ['10.9.0.2', {sent: 3, received: 0}],
    ])
  })

  it('a real ping writes its whole report at once, so reports from pings run together stay apart', () => {
    // Three pings of this machine's loopback at once, all onto one pipe, as the probe runs them.
    const r = spawnSync('sh', ['-c', 'exec 3>&1; for i in 1 2 3; do ping -n -q -c 2 -i 0.2 -W 1 "127.0.0.$i" >&3 2>/dev/null & done; wait'], {encoding: 'utf8'})
    const reports = parsePingReports(r.stdout)
    assert.deepEqual([...reports.keys()].sort(), ['127.0.0.1', '127.0.0.2', '127.0.0.3'], r.stdout)
    for (const v of reports.values()) assert.equal(v.sent, 2)
  })

  // A tunnel with no working session yet (both ends' handshakes crossed) answers only once WireGuard mends it,
  // 5-15 s later: the probe pings such a peer once more, and only such a peer. A `ping` that prints ping's own
  // -q report (on stdout, as ping does) and exits as ping does: 1 = no reply, 2 = an error (no route).
  it('the probe pings again, for 16 s, only the peers that answered none of the first three; reports after @@late', () => {
    const dir = tmpDir()
    const calls = join(dir, 'calls')
    // 10.0.0.2 answers; 10.0.0.3 answers only the later ping; 10.0.0.4 never; 10.0.0.5 has no route.
    writeFileSync(join(dir, 'ping'), `#!/bin/sh
ip=; for a in "$@"; do ip=$a; done
echo "$*" >> '${calls}'
case "$ip $*" in
  "10.0.0.2 "*|"10.0.0.3 "*"-w 16"*) n=1; [ "$ip" = 10.0.0.2 ] && n=3 ;;
  "10.0.0.5 "*) echo 'connect: Network is unreachable' >&2; exit 2 ;;
  *) n=0 ;;
esac
sent=3; case "$*" in *"-w 16"*) sent=16; [ $n -gt 0 ] && sent=1 ;; esac
printf -- '--- %s ping statistics ---\n%s packets transmitted, %s received\n' "$ip" $sent $n
[ $n -gt 0 ]
`, {mode: 0o755})
    const r = runProbe(dir, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'])
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual([...parsePingReports(r.stderr)].sort(), [
      ['10.0.0.2', {sent: 3, received: 3}],
      ['10.0.0.3', {sent: 3, received: 0, late: {sent: 1, received: 1}}],
      ['10.0.0.4', {sent: 3, received: 0, late: {sent: 16, received: 0}}],
    ])
    const pinged = readFileSync(calls, 'utf8').trim().split('\n').sort()
    assert.deepEqual(pinged, [
      '-n -q -c 1 -w 16 10.0.0.3',
      '-n -q -c 1 -w 16 10.0.0.4',
      '-n -q -c 3 -i 0.2 -W 1 10.0.0.2',
      '-n -q -c 3 -i 0.2 -W 1 10.0.0.3',
      '-n -q -c 3 -i 0.2 -W 1 10.0.0.4',
      '-n -q -c 3 -i 0.2 -W 1 10.0.0.5',
    ], 'no second ping after an error (10.0.0.5: no route)')
    assert.match(r.stdout, /^@@dumpstatus 1$/m, 'the dump is still read after the pings')
  })

  it('no second ping when every peer answered', () => {
    const dir = tmpDir()
    writeFileSync(join(dir, 'ping'), `#!/bin/sh\nfor a in "$@"; do ip=$a; done\nprintf -- '--- %s ping statistics ---\\n3 packets transmitted, 3 received\\n' "$ip"\n`, {mode: 0o755})
    const r = runProbe(dir, ['10.0.0.2', '10.0.0.3'])
    assert.doesNotMatch(r.stderr, /@@late/)
    assert.equal(parsePingReports(r.stderr).size, 2)
  })

  // A peer's latest handshake is compared with this clock to tell a session that was up during the pings (slow
  // replies) from one that was not (no session yet): it must be read before the first ping leaves, on the host.
  it('reads the host clock before it starts any ping, under @@pingclock', () => {
    const dir = tmpDir()
    const calls = join(dir, 'calls')
    writeFileSync(join(dir, 'ping'), `#!/bin/sh\nfor a in "$@"; do ip=$a; done\necho "ping $ip" >> '${calls}'\nprintf -- '--- %s ping statistics ---\\n3 packets transmitted, 3 received\\n' "$ip"\n`, {mode: 0o755})
    writeFileSync(join(dir, 'date'), `#!/bin/sh\necho "date $*" >> '${calls}'\nexec /bin/date "$@"\n`, {mode: 0o755})
    const before = Math.floor(Date.now() / 1000)
    const r = runProbe(dir, ['10.0.0.2', '10.0.0.3'])
    const after = Math.floor(Date.now() / 1000)
    const clock = Number(/^@@pingclock\n(\d+)$/m.exec(r.stdout)?.[1])
    assert.ok(clock >= before && clock <= after, `clock ${clock} not within ${before}..${after}: ${r.stdout.slice(0, 200)}`)
    const order = readFileSync(calls, 'utf8').trim().split('\n')
    assert.equal(order[0], 'date +%s', order.join('; '))
    assert.deepEqual(order.slice(1).sort(), ['ping 10.0.0.2', 'ping 10.0.0.3'])
  })
})
