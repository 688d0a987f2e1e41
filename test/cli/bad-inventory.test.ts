// A corpus of malformed and hostile inventories (test/fixtures/bad-inventories/*.yaml) through the built CLI
// (dist/ must be built: `npm test` builds first): every case through oclif in this process, and a sample also through
// the binary, whose output must be the same bytes. Each file's first line says what the error must name:
//   # expect: <field path substring> | <message substring>
// Every run must exit 2, name that field and message (plain and --json), show no stack trace, and leave an
// existing state and output folder exactly as they were.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import {MAX_INVENTORY_BYTES} from '../../src/services/mesh.js'
import {baseInventory, tmpDir, toYaml} from '../support/helpers.js'
import {meshInProcess} from './_in-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CORPUS = join(ROOT, 'test', 'fixtures', 'bad-inventories')
const CONCURRENCY = 4
/** Through the binary as well: one per kind of check (YAML parsing, size, schema, characters, cross-field). */
const THROUGH_THE_BINARY = ['billion-laughs.yaml', 'deep-nesting.yaml', 'huge.yaml (generated)', 'duplicate-name-case.yaml', 'cidr-31.yaml']

interface Case {
  name: string
  file: string
  path: string
  message: string
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function mesh(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args], {env: {...process.env, NO_COLOR: '1'}, timeout: 60_000})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

/** Runs jobs with at most `limit` at a time, results in input order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}

/** relative path -> mode, mtime and sha256 of every entry: what "nothing changed" means. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of readdirSync(dir, {recursive: true, withFileTypes: true})) {
    const p = join(e.parentPath, e.name)
    const st = statSync(p, {bigint: true})
    const content = e.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : 'dir'
    out.set(relative(dir, p), `${(st.mode & 0o7777n).toString(8)} ${st.mtimeNs} ${content}`)
  }
  out.set('.', `${(statSync(dir).mode & 0o7777).toString(8)}`)
  return out
}

function parseExpect(file: string): {path: string; message: string} {
  const first = readFileSync(file, 'latin1').split('\n')[0]
  const m = /^# expect: (.+?) \| (.+?)\s*$/.exec(first)
  assert.ok(m, `${file}: first line must be "# expect: <path> | <message>", got ${JSON.stringify(first)}`)
  return {path: m[1], message: m[2]}
}

const STACK = /^\s+at .+(:\d+:\d+\)?|\(node:[^)]*\))$/m
const ci = (s: string) => s.toLowerCase()

describe('bad inventories through the real CLI', () => {
  const dir = tmpDir('beam-mesh-bad-')
  const state = join(dir, 'state')
  const out = join(dir, 'out')
  const cases: Case[] = readdirSync(CORPUS)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({name: f, file: join(CORPUS, f), ...parseExpect(join(CORPUS, f))}))

  // Over the size cap: generated here rather than committed (a valid inventory padded with comment lines).
  const huge = join(dir, 'huge.yaml')
  const pad = `# ${'x'.repeat(1021)}\n`
  writeFileSync(huge, `# expect: (file) | limited to\n${toYaml(baseInventory())}${pad.repeat(Math.ceil(MAX_INVENTORY_BYTES / pad.length) + 1)}`)
  cases.push({name: 'huge.yaml (generated)', file: huge, ...parseExpect(huge)})

  let before_: {state: Map<string, string>; out: Map<string, string>}
  const results: {c: Case; plain: Run; json: Run}[] = []
  let binaryRuns: {c: Case; plain: Run; json: Run}[] = []

  before(async () => {
    const good = join(dir, 'good.yaml')
    writeFileSync(good, toYaml(baseInventory()))
    const init = await mesh(['init', '-i', good, '--state', state, '--out', out])
    assert.equal(init.code, 0, `a valid init must succeed first: ${init.stderr}`)
    before_ = {state: snapshot(state), out: snapshot(out)}
    const args = (c: Case) => ['init', '-i', c.file, '--state', state, '--out', out]
    for (const c of cases) results.push({c, plain: await meshInProcess(args(c)), json: await meshInProcess([...args(c), '--json'])})
    const sample = cases.filter((c) => THROUGH_THE_BINARY.includes(c.name))
    binaryRuns = await pool(sample, CONCURRENCY, async (c) => ({c, plain: await mesh(args(c)), json: await mesh([...args(c), '--json'])}))
  })

  it('the binary prints the same bytes and exit codes as the in-process runs (checked on a sample of each kind)', () => {
    assert.equal(binaryRuns.length, THROUGH_THE_BINARY.length, 'every sampled case exists in the corpus')
    for (const b of binaryRuns) {
      const r = results.find((x) => x.c === b.c)!
      assert.deepEqual(b.plain, r.plain, `${b.c.name}: plain`)
      assert.deepEqual(b.json, r.json, `${b.c.name}: --json`)
    }
  })

  it('the corpus holds at least 30 inventories, each with an expectation', () => {
    assert.ok(cases.length >= 31, `only ${cases.length} cases`)
  })

  it('every bad inventory exits 2 and names the field and the problem on stderr, without a stack trace', () => {
    const failures: string[] = []
    for (const {c, plain} of results) {
      const why: string[] = []
      if (plain.code !== 2) why.push(`exit ${plain.code}`)
      if (!ci(plain.stderr).includes(ci(`${c.path}`))) why.push(`stderr does not name ${JSON.stringify(c.path)}`)
      if (!ci(plain.stderr).includes(ci(c.message))) why.push(`stderr does not say ${JSON.stringify(c.message)}`)
      if (!plain.stderr.includes('fix: ')) why.push('no fix offered')
      if (STACK.test(plain.stderr) || STACK.test(plain.stdout)) why.push('stack trace')
      if (why.length) failures.push(`${c.name}: ${why.join('; ')}\n${plain.stderr}${plain.stdout}`)
    }
    assert.deepEqual(failures, [])
  })

  it('with --json: exit 2, one JSON error on stdout whose issues name the field and the problem', () => {
    const failures: string[] = []
    for (const {c, json} of results) {
      const why: string[] = []
      if (json.code !== 2) why.push(`exit ${json.code}`)
      let parsed: {error?: {kind?: string; issues?: {path: string; message: string; fix: string}[]}} = {}
      try {
        parsed = JSON.parse(json.stdout)
      } catch {
        why.push('stdout is not JSON')
      }
      const issues = parsed.error?.issues ?? []
      if (parsed.error?.kind !== 'InventoryError') why.push(`kind ${parsed.error?.kind}`)
      const hit = issues.find((i) => ci(i.path).includes(ci(c.path)) && ci(i.message).includes(ci(c.message)))
      if (!hit) why.push(`no issue at ${JSON.stringify(c.path)} saying ${JSON.stringify(c.message)}`)
      else if (hit.fix.length < 10) why.push('no real fix')
      if (STACK.test(json.stdout) || STACK.test(json.stderr)) why.push('stack trace')
      if (why.length) failures.push(`${c.name}: ${why.join('; ')}\n${json.stdout}${json.stderr}`)
    }
    assert.deepEqual(failures, [])
  })

  it('no bad inventory changed a byte, mode or mtime of the existing state and output', () => {
    assert.deepEqual(snapshot(state), before_.state)
    assert.deepEqual(snapshot(out), before_.out)
  })
})
