// Host-provided bytes reach the terminal escaped: an ESC sequence planted in a host's /etc/hosts shows in
// the plan's diff as text (\e[...), never as a live sequence that could recolour or hide lines.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {escapeForTerminal} from '../../src/core/display.js'
import {FileChange} from '../../src/core/plan.js'
import {renderFindings} from '../../src/ui/matrix.js'
import {plainStyle, renderFileDiff, renderResult} from '../../src/ui/plan.js'

const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

describe('escapeForTerminal', () => {
  it('shows ESC, CR, BEL, C1 CSI and bidi overrides escaped, keeps ordinary text and tabs', () => {
    assert.equal(escapeForTerminal('a\u001b[2J\rb\u0007c\u009b31m\u202ed\te'), 'a\\e[2J\\rb\\x07c\\x9b31m\\u{202e}d\te')
    assert.equal(escapeForTerminal('10.77.0.1 Host-A # café'), '10.77.0.1 Host-A # café')
  })

  it('keeps newlines only when asked (multi-line messages), escapes them otherwise (one-line fields)', () => {
    assert.equal(escapeForTerminal('a\nb'), 'a\\nb')
    assert.equal(escapeForTerminal('a\nb\u001b', {newlines: true}), 'a\nb\\e')
  })
})

describe('rendering host-provided text', () => {
  const hostile = '127.0.0.1 localhost\n\u001b]0;pwned\u0007\u001b[8m198.51.100.66 Host-B\u001b[0m\n'

  it('a plan diff of a host /etc/hosts holding escape sequences prints them escaped', () => {
    const change: FileChange = {path: '/etc/hosts', kind: 'update', before: hostile, after: '127.0.0.1 localhost\n10.77.0.2 Host-B\n', mode: 0o644, secret: false}
    const out = renderFileDiff(change, plainStyle).join('\n')
    assert.doesNotMatch(out, RAW_CONTROL)
    assert.match(out, /-\\e\]0;pwned\\x07\\e\[8m198\.51\.100\.66 Host-B\\e\[0m/)
  })

  it('errors and notes in the apply result, and doctor findings, are escaped too', () => {
    const result = renderResult(
      {hosts: [{name: 'Host-A', status: 'failed', files: [], iface: 'none', disruptive: false, error: 'wg: \u001b[31mboom', notes: ['n\u001b[2K']}], changed: 0, failed: 1},
      plainStyle,
    )
    assert.doesNotMatch(result, RAW_CONTROL)
    assert.match(result, /wg: \\e\[31mboom/)
    const findings = renderFindings(
      {hosts: ['Host-A'], matrix: [[{verdict: 'fail', label: 'x\u001b[1m'}]], findings: [{severity: 'fail', host: 'Host-A', check: 'hostname', label: 'x', message: 'hostname is "\u001b[8mevil"', hint: 'h\u009b'}], summary: {critical: 0, fail: 1, warn: 0}, healthy: false} as never,
      {color: false},
    )
    assert.doesNotMatch(findings, RAW_CONTROL)
    assert.match(findings, /\\e\[8mevil/)
  })
})
