// The state lock under real processes: several children race to take over one stale lock, exactly one wins.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {tmpDir} from '../support/helpers.js'

describe('stale lock takeover with real processes', () => {
  it('of several processes racing to take over one stale lock, exactly one wins', async () => {
    const {spawn} = await import('node:child_process')
    const dir = tmpDir()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout
    writeFileSync(join(dir, 'apply.lock'), JSON.stringify({pid: Number(dead), host: hostname(), what: 'apply'}))
    const go = join(dir, 'go')
    const lockModule = new URL('../../src/state/lock.ts', import.meta.url).href
    // Each child waits for the go file (so they start together), tries once, says how it went, and holds
    // what it got until its stdin closes: a winner that let go early would let a second one win fairly.
    const script = `
      const {existsSync} = await import('node:fs')
      const {acquireLock} = await import(${JSON.stringify(lockModule)})
      process.stdout.write('ready\\n')
      const until = Date.now() + 120000
      while (!existsSync(${JSON.stringify(go)}) && Date.now() < until) await new Promise((r) => setTimeout(r, 2))
      let got = 'lost'
      try { acquireLock(${JSON.stringify(dir)}, 'apply'); got = 'won' } catch {}
      process.stdout.write(got + '\\n')
      process.stdin.resume()
      process.stdin.on('end', () => process.exit(0))`
    const N = 6
    const children = Array.from({length: N}, () => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {stdio: ['pipe', 'pipe', 'inherit']}))
    const lines = children.map((c) => {
      let out = ''
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
      return {
        when: (word: string) =>
          new Promise<string>((resolve, reject) => {
            // unref: the word that never comes (won vs lost) must not keep this file's process alive for 180 s
            const t = setTimeout(() => reject(new Error(`no "${word}" within 180 s: ${out}`)), 180_000).unref()
            const check = () => (out.includes(word) ? (clearTimeout(t), resolve(out)) : undefined)
            c.stdout.on('data', check)
            check()
          }),
        out: () => out,
      }
    })
    try {
      await Promise.all(lines.map((l) => l.when('ready')))
      writeFileSync(go, '')
      await Promise.all(lines.map((l) => Promise.race([l.when('won'), l.when('lost')])))
      const won = lines.filter((l) => l.out().includes('won')).length
      assert.equal(won, 1, lines.map((l) => l.out()).join('|'))
    } finally {
      for (const c of children) c.stdin.end()
    }
  })
})
