// YAML text -> plain JS value, refusing anything an inventory never needs: several documents, unknown
// tags, aliases that expand without bound ("billion laughs"), absurd nesting. Pure: the caller reads the file.
import {YAMLError, parseDocument} from 'yaml'

import {FieldIssue, InventoryError} from './errors.js'

/** Aliases are rare in an inventory; more expansions than this is an attack or a mistake. */
export const MAX_ALIAS_COUNT = 100

const SYNTAX_FIX = 'fix the YAML syntax at that position (indentation, colons, quotes)'

/** The yaml library's messages end with " at line L, column C:" (the path says that already) and name its own API. */
function plainMessage(e: YAMLError): string {
  const first = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
  if (e.code === 'MULTIPLE_DOCS') return 'the file holds more than one YAML document (a second --- line)'
  if (/call stack/i.test(first)) return 'the YAML is nested too deeply'
  if (e.code === 'TAG_RESOLVE_FAILED') return `${first} (custom YAML tags are not allowed)`
  return first
}

function issueOf(e: YAMLError): FieldIssue {
  const fix = e.code === 'MULTIPLE_DOCS' ? 'keep one document: remove the --- line and what follows, or split the file' : SYNTAX_FIX
  return {
    path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(yaml)',
    message: `YAML syntax error: ${plainMessage(e)}`,
    fix: e.code === 'TAG_RESOLVE_FAILED' ? 'remove the !tag: inventories hold plain strings, numbers, booleans, lists and mappings' : fix,
  }
}

/** An inventory nests a few levels; a flow collection nested deeper than this is an attack or a mistake. */
export const MAX_FLOW_DEPTH = 64

/**
 * Where `[`/`{` nesting first exceeds MAX_FLOW_DEPTH, or null. Checked before parsing so the answer is the same
 * in every process: the parser would otherwise stop wherever the call stack happens to run out.
 * Quoted strings and comments are skipped; a stray bracket in a plain scalar can only make the count higher
 * by one, which the limit leaves room for.
 */
function flowTooDeep(text: string): {line: number; col: number} | null {
  let depth = 0
  let line = 1
  let col = 0
  let quote = ''
  let comment = false
  let prev = '\n'
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    col++
    if (ch === '\n') {
      line++
      col = 0
      comment = false
    } else if (comment) {
      // skipped to the end of the line
    } else if (quote) {
      if (quote === '"' && ch === '\\') {
        i++
        col++
      } else if (ch === quote) quote = ''
    } else if (ch === '#' && /\s/.test(prev)) comment = true
    else if (ch === '"' || ch === "'") quote = ch
    else if (ch === '[' || ch === '{') {
      if (++depth > MAX_FLOW_DEPTH) return {line, col}
    } else if ((ch === ']' || ch === '}') && depth > 0) depth--
    prev = ch
  }
  return null
}

/** Parse YAML; throws InventoryError naming line and column for every error or warning. */
export function loadInventoryYaml(text: string, file: string): unknown {
  const deep = flowTooDeep(text)
  if (deep) {
    throw new InventoryError(file, [
      {path: `line ${deep.line}, column ${deep.col}`, message: `YAML syntax error: the YAML is nested too deeply (over ${MAX_FLOW_DEPTH} levels of [ ] or { })`, fix: SYNTAX_FIX},
    ])
  }
  let doc: ReturnType<typeof parseDocument>
  try {
    doc = parseDocument(text, {uniqueKeys: true, prettyErrors: true})
  } catch (err) {
    // The parser recurses: a deeply nested flow collection can overflow the stack before it reports anything.
    throw new InventoryError(file, [{path: '(yaml)', message: `YAML could not be parsed: ${(err as Error).message}`, fix: SYNTAX_FIX}])
  }
  // Warnings too (e.g. an unresolved !!js/function tag silently becomes a string): hostile or mistyped input.
  const problems = [...doc.errors, ...doc.warnings]
  if (problems.length > 0) throw new InventoryError(file, problems.map(issueOf))
  try {
    return doc.toJS({maxAliasCount: MAX_ALIAS_COUNT})
  } catch (err) {
    const message = (err as Error).message
    if (/alias count/i.test(message)) {
      throw new InventoryError(file, [
        {
          path: '(yaml)',
          message: `YAML aliases expand too far (over ${MAX_ALIAS_COUNT} alias expansions, the "billion laughs" pattern)`,
          fix: 'write the values out instead of nesting anchors and aliases (*name)',
        },
      ])
    }
    const alias = /Unresolved alias[^:]*: (.*)$/.exec(message)
    if (alias) {
      throw new InventoryError(file, [
        {path: '(yaml)', message: `YAML alias *${alias[1]} refers to no anchor defined before it`, fix: 'define the anchor (&name) before the alias, or write the value out'},
      ])
    }
    throw new InventoryError(file, [{path: '(yaml)', message: `YAML could not be read: ${message}`, fix: SYNTAX_FIX}])
  }
}
