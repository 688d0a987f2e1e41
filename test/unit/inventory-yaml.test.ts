import assert from 'node:assert/strict'
import {test} from 'node:test'

import {InventoryError} from '../../src/core/errors.js'
import {MAX_FLOW_DEPTH, loadInventoryYaml} from '../../src/core/inventory-yaml.js'

const issuesOf = (text: string) => {
  try {
    loadInventoryYaml(text, 'x.yaml')
  } catch (error) {
    assert.ok(error instanceof InventoryError)
    return error.issues
  }
  return []
}

test('flow nesting past the limit: one issue at the bracket that crosses it, the same in every process', () => {
  const text = `a: 1\nb: ${'['.repeat(MAX_FLOW_DEPTH + 5)}`
  assert.deepEqual(issuesOf(text).map((i) => i.path), [`line 2, column ${'b: '.length + MAX_FLOW_DEPTH + 1}`])
  assert.match(issuesOf(text)[0].message, /nested too deeply \(over 64 levels/)
})

test('nesting up to the limit parses; brackets in quotes and comments do not count', () => {
  const nested = `${'['.repeat(MAX_FLOW_DEPTH)}1${']'.repeat(MAX_FLOW_DEPTH)}`
  assert.deepEqual(issuesOf(`a: ${nested}`), [])
  const quoted = `a: "${'['.repeat(200)}\\"${'{'.repeat(10)}"\nb: '${'{'.repeat(200)}'  # ${'['.repeat(200)}\n`
  assert.deepEqual(loadInventoryYaml(quoted, 'x.yaml'), {a: `${'['.repeat(200)}"${'{'.repeat(10)}`, b: '{'.repeat(200)})
})
