// Counting a node:test TAP report for run-tests.mjs's closing line.

/**
 * pass/fail/skipped over the TAP of one run, counting tests, not the suites or parent tests around them
 * (TAP's own "# fail" counts a failing test once more for every parent). A parent counts only when it
 * failed by itself (e.g. an assertion after its subtests) and none of its subtests failed.
 */
export function countLeaves(text) {
  const out = {pass: 0, fail: 0, skipped: 0}
  const hasChildren = new Map()
  const childFailed = new Map()
  for (const line of text.split('\n')) {
    const sub = /^( *)# Subtest: /.exec(line)
    if (sub) {
      hasChildren.set(sub[1].length, false)
      childFailed.set(sub[1].length, false)
      continue
    }
    const plan = /^( *)1\.\.\d+/.exec(line)
    if (plan && plan[1].length >= 4) hasChildren.set(plan[1].length - 4, true)
    const point = /^( *)(not ok|ok) \d+ - .*?(# (SKIP|TODO)\b.*)?$/.exec(line)
    if (!point) continue
    const depth = point[1].length
    const failed = point[2] === 'not ok'
    if (failed && depth >= 4) childFailed.set(depth - 4, true)
    if (hasChildren.get(depth) && (!failed || childFailed.get(depth))) continue
    if (point[4] === 'SKIP') out.skipped++
    else if (failed) out.fail++
    else out.pass++
  }
  return out
}
