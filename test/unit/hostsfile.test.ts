import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {UserError} from '../../src/core/errors.js'
import {findBlock, removeBlock, spliceBlock} from '../../src/core/hostsfile.js'

const B = '# BEGIN beam-mesh wg0'
const E = '# END beam-mesh wg0'
const block = `${B}\n10.77.0.1\tHost-A\n${E}\n`
const oldBlock = `${B}\n10.77.0.9\tOld\n${E}\n`

describe('spliceBlock', () => {
  it('appends to a file without a block, adding a newline only where one is missing', () => {
    assert.equal(spliceBlock('127.0.0.1 localhost\n', block, B, E), `127.0.0.1 localhost\n${block}`)
    assert.equal(spliceBlock('127.0.0.1 localhost', block, B, E), `127.0.0.1 localhost\n${block}`)
    assert.equal(spliceBlock('', block, B, E), block)
  })
  it('replaces only the block, keeping user lines before and after byte for byte', () => {
    const head = '127.0.0.1\tlocalhost\n# comment  with  spaces \n\n'
    const tail = '192.0.2.5 after-block\n\n# trailing comment\n'
    assert.equal(spliceBlock(head + oldBlock + tail, block, B, E), head + block + tail)
  })
  it('keeps CRLF user lines and recognises CRLF markers', () => {
    const head = '127.0.0.1 localhost\r\n::1 ip6-localhost\r\n'
    const tail = '10.0.0.1 user-line\r\n'
    const crlfBlock = `${B}\r\n10.77.0.9\tOld\r\n${E}\r\n`
    assert.equal(spliceBlock(head + crlfBlock + tail, block, B, E), head + block + tail)
  })
  it('keeps a missing final newline missing when the block is last', () => {
    const head = '127.0.0.1 localhost\n'
    const out = spliceBlock(head + oldBlock.slice(0, -1), block, B, E)
    assert.equal(out, head + block.slice(0, -1))
    assert.ok(!out.endsWith('\n'))
  })
  it('keeps a user line without final newline after the block', () => {
    const content = `1.1.1.1 a\n${oldBlock}2.2.2.2 b`
    assert.equal(spliceBlock(content, block, B, E), `1.1.1.1 a\n${block}2.2.2.2 b`)
  })
  it('is idempotent: splicing the same block twice gives the same bytes', () => {
    const once = spliceBlock('127.0.0.1 localhost\n', block, B, E)
    assert.equal(spliceBlock(once, block, B, E), once)
  })
  it('leaves other interfaces\' blocks alone', () => {
    const other = '# BEGIN beam-mesh wg1\n10.88.0.1\tX\n# END beam-mesh wg1\n'
    assert.equal(spliceBlock(other + oldBlock, block, B, E), other + block)
  })
  it('refuses a lone marker, duplicate markers, and markers out of order', () => {
    const cases = [`x\n${B}\ny\n`, `x\n${E}\n`, oldBlock + oldBlock, `${E}\n${B}\n`, `${B}\n${B}\n${E}\n`]
    for (const content of cases) {
      assert.throws(
        () => spliceBlock(content, block, B, E, '/etc/hosts on Host-A'),
        (e: unknown) => e instanceof UserError && e.exitCode === 2 && /\/etc\/hosts on Host-A has \d "# BEGIN/.test(e.message) && /exactly one BEGIN/.test(e.fix!),
        JSON.stringify(content),
      )
    }
    assert.throws(() => findBlock(`${E}\n${B}\n`, B, E), /in the wrong order/)
  })
  it('does not treat markers with extra text as ours', () => {
    assert.equal(findBlock(`${B} extra\n${E}x\n`, B, E), null)
  })
})

describe('removeBlock', () => {
  it('removes exactly the block and nothing else', () => {
    assert.equal(removeBlock(`a\n${oldBlock}b\n`, B, E), 'a\nb\n')
    assert.equal(removeBlock(`a\r\n${oldBlock}b`, B, E), 'a\r\nb')
    assert.equal(removeBlock(oldBlock, B, E), '')
  })
  it('returns the content unchanged when there is no block', () => {
    const s = '127.0.0.1 localhost\n'
    assert.equal(removeBlock(s, B, E), s)
  })
  it('refuses a broken block', () => {
    assert.throws(() => removeBlock(`${B}\n`, B, E), UserError)
  })
})
