// The state lock under real processes: several children race to take over one stale lock, exactly one wins.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {tmpDir} from '../support/helpers.js'

// Each child waits for a go file, tries once, and says 'won' or 'lost' (lock-race-child.mjs).
const CHILD = fileURLToPath(new URL('lock-race-child.mjs', import.meta.url))

describe('stale lock takeover with real processes', () => {
  it('of several processes racing to take over one stale lock, exactly one wins', async () => {
    const {spawn} = await import('node:child_process')
    const dir = tmpDir()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout
    writeFileSync(join(dir, 'apply.lock'), JSON.stringify({pid: Number(dead), host: hostname(), what: 'apply'}))
    const go = join(dir, 'go')
    const N = 6
    const children = Array.from({length: N}, () => spawn(process.execPath, ['--import', 'tsx', CHILD, go, dir], {stdio: ['pipe', 'pipe', 'inherit']}))
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
