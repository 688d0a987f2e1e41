// A connection dropped at close is a note on its host (or a warning for a removed host's teardown), never a
// change of status or of the failure count.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {ApplyResult} from '../../src/services/apply-types.js'
import {withCloseNotes} from '../../src/services/apply.js'

const result: ApplyResult = {
  hosts: [
    {name: 'Host-A', status: 'unchanged', files: [], iface: 'none', disruptive: false, notes: []},
    {name: 'Host-B', status: 'changed', files: [], iface: 'sync', disruptive: false, notes: ['peers changed']},
  ],
  changed: 1,
  failed: 0,
}

describe('withCloseNotes', () => {
  it('adds each note to its host and leaves statuses and counts alone', () => {
    const out = withCloseNotes(result, [{name: 'Host-B', note: 'dropped'}])
    assert.deepEqual(out.hosts[1].notes, ['peers changed', 'dropped'])
    assert.deepEqual(out.hosts[0].notes, [])
    assert.deepEqual([out.changed, out.failed, out.hosts.map((h) => h.status)], [1, 0, ['unchanged', 'changed']])
    assert.equal(out.warnings, undefined)
    assert.deepEqual(result.hosts[1].notes, ['peers changed'], 'the input is not mutated')
  })

  it('a host outside the result (a removed host torn down) becomes a warning; no notes: the same object', () => {
    const out = withCloseNotes({...result, warnings: ['w']}, [{name: 'Old-Host', note: 'dropped'}])
    assert.deepEqual(out.warnings, ['w', 'Old-Host: dropped'])
    assert.equal(withCloseNotes(result, []), result)
  })
})
