// run-tests.mjs's closing line counts a failing test once, not once more for each suite or parent test around it.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

// @ts-expect-error: a plain .mjs script without types
import {countLeaves} from '../../scripts/tap-count.mjs'
import {tmpDir} from '../support/helpers.js'

const FIXTURE = `
import assert from 'node:assert/strict'
import {describe, it, test} from 'node:test'
describe('suite', () => {
  describe('inner', () => {
    it('fails', () => assert.fail('boom'))
    it('passes', () => {})
  })
  it('skipped', {skip: 'not here'}, () => {})
})
test('parent with subtests', async (t) => {
  await t.test('child passes', () => {})
  await t.test('child fails', () => assert.fail('boom'))
})
test('parent failing by itself', async (t) => {
  await t.test('child passes', () => {})
  assert.fail('after the subtests')
})
test('plain pass', () => {})
`

describe('countLeaves (scripts/tap-count.mjs)', () => {
  it('counts the leaves of a real node --test TAP report', () => {
    const dir = tmpDir()
    const file = join(dir, 'fixture.test.mjs')
    writeFileSync(file, FIXTURE)
    const res = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], {
      encoding: 'utf8',
      timeout: 60_000,
      // Inside a test run this is set, and a child `node --test` would report to the parent instead of printing TAP.
      env: {...process.env, NODE_TEST_CONTEXT: undefined},
    })
    assert.equal(res.status, 1, res.stderr)
    assert.match(res.stdout, /^# fail [4-9]$/m, 'TAP itself counts the parents too')
    // fails, child fails, parent failing by itself = 3 failures; passes, child passes x2, plain pass = 4.
    assert.deepEqual(countLeaves(res.stdout), {pass: 4, fail: 3, skipped: 1})
  })
})
