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

/** Parse YAML; throws InventoryError naming line and column for every error or warning. */
export function loadInventoryYaml(text: string, file: string): unknown {
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
