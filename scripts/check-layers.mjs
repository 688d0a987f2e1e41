// The import rules of src/ (README "Architecture"), checked on the source text: no import cycle, no upward
// import (commands -> ui -> services -> remote, state -> core -> templates; lab is its own room), and no
// command importing another command. Run by `npm test` beside eslint; prints every violation, exits 1 on any.
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

const SRC = resolve('src')
// Rank: a module may import its own room, a room of a lower rank, or its sibling (remote and state share a rank).
const RANK = {commands: 6, ui: 5, services: 4, remote: 3, state: 3, core: 2, templates: 1}
const LAB_USERS = new Set(['commands'])

function files(dir) {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

const room = (file) => relative(SRC, file).split('/')[0]
const graph = new Map()
for (const file of files(SRC)) {
  const text = readFileSync(file, 'utf8')
  const deps = [...text.matchAll(/^(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => resolve(dirname(file), m[1].replace(/\.js$/, '.ts')))
  graph.set(file, deps)
}

const problems = []
for (const [file, deps] of graph) {
  const from = room(file)
  for (const dep of deps) {
    const to = room(dep)
    const name = `${relative(SRC, file)} -> ${relative(SRC, dep)}`
    if (from === 'commands' && to === 'commands' && !dep.endsWith('/base.ts')) problems.push(`command imports a command: ${name}`)
    if (from === to) continue
    if (to === 'lab' && !LAB_USERS.has(from)) problems.push(`only commands/lab uses the lab: ${name}`)
    else if (from === 'lab' && to !== 'core') problems.push(`the lab uses only core: ${name}`)
    else if (RANK[from] !== undefined && RANK[to] !== undefined && RANK[to] > RANK[from]) problems.push(`upward import: ${name}`)
  }
}

// Cycles: depth-first search with colours; each back edge names one cycle.
const state = new Map()
const stack = []
function visit(node) {
  state.set(node, 'open')
  stack.push(node)
  for (const dep of graph.get(node) ?? []) {
    if (state.get(dep) === 'open') problems.push(`import cycle: ${stack.slice(stack.indexOf(dep)).concat(dep).map((f) => relative(SRC, f)).join(' -> ')}`)
    else if (!state.has(dep) && graph.has(dep)) visit(dep)
  }
  stack.pop()
  state.set(node, 'done')
}
for (const node of graph.keys()) if (!state.has(node)) visit(node)

for (const p of problems) console.error(p)
console.log(`layers: ${graph.size} modules, ${problems.length ? `${problems.length} problem(s)` : 'no cycle, no upward import, no command importing a command'}`)
process.exit(problems.length ? 1 : 0)
