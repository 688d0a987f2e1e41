// Doctor's name lookups on a real shell (sh, as on the hosts) with a stand-in `getent` on PATH that answers from
// a table, exactly in glibc's `getent ahosts` format, and logs each call. The one-process-per-family fast path
// must print byte for byte what asking each name alone prints, in every case: all names resolve, one in the
// middle does not, a canonical name differs from the name asked (an alias line), several addresses per name.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {execa} from 'execa'

import {AHOSTS_FUNCTIONS} from '../../src/services/doctor-probe.js'
import {tmpDir} from '../support/helpers.js'

/** name -> [canonical name, addresses]; glibc prints the canonical name on the first address line only. */
type Table = Record<string, [string, string[]]>

const FAKE_GETENT = `#!/bin/sh
db=$1; shift
echo "$*" >> "$GETENT_LOG"
rc=0
for key in "$@"; do
  if [ -f "$GETENT_TABLE/$db/$key" ]; then cat "$GETENT_TABLE/$db/$key"; else rc=2; fi
done
exit $rc
`

function setUp(v4: Table, v6: Table): {env: Record<string, string>; log: string} {
  const dir = tmpDir()
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'getent'), FAKE_GETENT)
  chmodSync(join(bin, 'getent'), 0o755)
  for (const [db, table] of [['ahostsv4', v4], ['ahostsv6', v6]] as const) {
    mkdirSync(join(dir, 'table', db), {recursive: true})
    for (const [name, [canon, addrs]] of Object.entries(table)) {
      const lines = addrs.flatMap((a, i) => [`${a.padEnd(15)} ${'STREAM'.padEnd(6)} ${i === 0 ? canon : ''}`, `${a.padEnd(15)} ${'DGRAM'.padEnd(6)} `, `${a.padEnd(15)} ${'RAW'.padEnd(6)} `])
      writeFileSync(join(dir, 'table', db, name), `${lines.join('\n')}\n`)
    }
  }
  const log = join(dir, 'calls.log')
  writeFileSync(log, '')
  return {env: {PATH: `${bin}:${process.env.PATH}`, GETENT_TABLE: join(dir, 'table'), GETENT_LOG: log}, log}
}

const NAME_BY_NAME = `for n in "$@"; do printf '@@ahosts %s %s\\n' "$fam" "$n"; getent "ahosts$v" "$n"; done`

async function both(names: string[], v4: Table, v6: Table): Promise<{fast: string; slow: string; calls: string[]}> {
  const {env, log} = setUp(v4, v6)
  const fast = await execa('sh', ['-c', `${AHOSTS_FUNCTIONS}\nahosts inet v4 "$@"; ahosts inet6 v6 "$@"`, 'sh', ...names], {env, reject: false})
  const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean)
  const slow = await execa('sh', ['-c', `for fv in inet:v4 inet6:v6; do fam=\${fv%:*} v=\${fv#*:}; ${NAME_BY_NAME}; done`, 'sh', ...names], {env, reject: false})
  assert.equal(fast.exitCode, 0, fast.stderr)
  return {fast: fast.stdout, slow: slow.stdout, calls}
}

const A = (canon: string, ...addrs: string[]): [string, string[]] => [canon, addrs]

describe('doctor asks every mesh name in one getent per family', () => {
  it('all names resolve: one call per family, the same sections as name by name', async () => {
    const names = ['Host-1', 'Host-1-wg', 'Host-2', 'Host-2-wg']
    const v4 = {'Host-1': A('Host-1', '10.9.0.1'), 'Host-1-wg': A('Host-1-wg', '198.18.0.2'), 'Host-2': A('Host-2', '10.9.0.2'), 'Host-2-wg': A('Host-2-wg', '198.18.0.3')}
    const v6 = {'Host-1': A('Host-1', 'fd09::1'), 'Host-1-wg': A('Host-1-wg', '::ffff:198.18.0.2'), 'Host-2': A('Host-2', 'fd09::2'), 'Host-2-wg': A('Host-2-wg', '::ffff:198.18.0.3')}
    const r = await both(names, v4, v6)
    assert.equal(r.fast, r.slow)
    assert.deepEqual(r.calls, [names.join(' '), names.join(' ')])
    assert.match(r.fast, /^@@ahosts inet Host-2-wg\n198\.18\.0\.3 +STREAM Host-2-wg\n/m)
  })

  it('a name in the middle that does not resolve: asked name by name, nothing misattributed', async () => {
    const names = ['Host-1', 'Host-2', 'Host-3']
    const v4 = {'Host-1': A('Host-1', '10.9.0.1'), 'Host-3': A('Host-3', '10.9.0.3')}
    const r = await both(names, v4, v4)
    assert.equal(r.fast, r.slow)
    assert.match(r.fast, /@@ahosts inet Host-2\n@@ahosts inet Host-3\n10\.9\.0\.3 /)
    assert.equal(r.calls.length, 2 * (1 + names.length))
  })

  it('a canonical name other than the name asked (an alias line first): asked name by name', async () => {
    const names = ['Host-1', 'Host-2']
    const v4 = {'Host-1': A('host-1.example.com', '127.0.1.1', '10.9.0.1'), 'Host-2': A('Host-2', '10.9.0.2')}
    const r = await both(names, v4, v4)
    assert.equal(r.fast, r.slow)
    assert.match(r.fast, /@@ahosts inet Host-1\n127\.0\.1\.1 +STREAM host-1\.example\.com\n127\.0\.1\.1 +DGRAM +\n127\.0\.1\.1 +RAW +\n10\.9\.0\.1 +STREAM +\n/)
    assert.equal(r.calls.length, 2 * (1 + names.length))
  })

  it('several addresses for a name (a shadowing line): every one stays under its name, one call', async () => {
    const names = ['Host-1', 'Host-2']
    const v4 = {'Host-1': A('Host-1', '172.17.0.5', '10.9.0.1'), 'Host-2': A('Host-2', '10.9.0.2')}
    const r = await both(names, v4, v4)
    assert.equal(r.fast, r.slow)
    assert.match(r.fast, /@@ahosts inet Host-1\n(.*\n){3}10\.9\.0\.1 +STREAM +\n(.*\n){2}@@ahosts inet Host-2\n/)
    assert.equal(r.calls.length, 2)
  })

  it('nothing resolves: name by name, every name still gets its (empty) section', async () => {
    const r = await both(['Host-1', 'Host-2'], {}, {})
    assert.equal(r.fast, r.slow)
    assert.equal(r.fast, '@@ahosts inet Host-1\n@@ahosts inet Host-2\n@@ahosts inet6 Host-1\n@@ahosts inet6 Host-2')
  })
})
