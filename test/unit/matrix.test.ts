import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {DoctorReport} from '../../src/core/doctor-report.js'
import {renderFindings, renderMatrix} from '../../src/ui/matrix.js'

const report: DoctorReport = {
  hosts: ['Host-A', 'Host-B', 'Host-C'],
  matrix: [
    [{verdict: 'ok', label: 'ok'}, {verdict: 'warn', label: 'hs 10m'}, {verdict: 'fail', label: 'hs never'}],
    [{verdict: 'ok', label: 'ok'}, {verdict: 'fail', label: 'EPMD pub +1'}, {verdict: 'unknown', label: 'no ssh'}],
    [{verdict: 'fail', label: 'a very long label indeed'}, {verdict: 'ok', label: 'ok'}, {verdict: 'unknown', label: 'no ssh'}],
  ],
  findings: [
    {severity: 'critical', host: 'Host-B', check: 'exposure-epmd', label: 'EPMD pub', message: 'EPMD answers publicly', hint: 'set beam.firewall: true'},
    {severity: 'warn', host: 'Host-A', peer: 'Host-B', check: 'handshake', label: 'hs 10m', message: 'stale', hint: 'check UDP'},
  ],
  summary: {critical: 1, fail: 2, warn: 1},
  healthy: false,
}

describe('matrix renderer', () => {
  it('plain text: aligned columns, marks, no escape codes', () => {
    const out = renderMatrix(report, {color: false})
    assert.ok(!out.includes('\u001b'))
    const lines = out.split('\n')
    assert.equal(lines[0], 'from \\ to  Host-A          Host-B           Host-C')
    assert.equal(lines[1], 'Host-A       [ok]          ! hs 10m         x hs never')
    assert.equal(lines[2], 'Host-B       ok            x [EPMD pub +1]  ? no ssh')
    assert.equal(lines[3], 'Host-C     x a very long…    ok             ? [no ssh]')
    assert.match(out, /x = fail/)
    // Every column starts at the same offset on every row.
    const col = lines[0].indexOf('Host-B')
    assert.ok([1, 2, 3].every((i) => lines[i].slice(col - 2, col) === '  '))
  })
  it('colour only when asked', () => {
    const out = renderMatrix(report, {color: true})
    assert.match(out, /\u001b\[31mx hs never/)
    assert.match(out, /\u001b\[33m! hs 10m/)
  })
  it('findings list with fixes', () => {
    const out = renderFindings(report, {color: false})
    assert.equal(out, 'CRITICAL Host-B (exposure-epmd): EPMD answers publicly\n    fix: set beam.firewall: true\nWARN Host-A -> Host-B (handshake): stale\n    fix: check UDP\n')
    assert.equal(renderFindings({...report, findings: []}, {color: false}), 'All checks passed.\n')
  })
})
