// Splicing our marked block into /etc/hosts. Every byte outside the block is kept as it was.
import {UserError} from './errors.js'

export interface BlockSpan {
  start: number
  end: number
}

/** Byte offsets of our block (start of BEGIN line .. after END line's newline), or null when absent. */
export function findBlock(content: string, begin: string, end: string, where = '/etc/hosts'): BlockSpan | null {
  const lines = content.split('\n')
  const begins: number[] = []
  const ends: number[] = []
  let offset = 0
  const lineStart: number[] = []
  lines.forEach((line, i) => {
    lineStart.push(offset)
    offset += line.length + 1
    const trimmed = line.replace(/\r$/, '')
    if (trimmed === begin) begins.push(i)
    if (trimmed === end) ends.push(i)
  })
  if (begins.length === 0 && ends.length === 0) return null
  if (begins.length !== 1 || ends.length !== 1 || ends[0] < begins[0]) {
    throw new UserError(
      `${where} has ${begins.length} "${begin}" and ${ends.length} "${end}" line(s)${ends[0] < begins[0] ? ', in the wrong order' : ''}: refusing to guess which lines are ours`,
      `edit ${where} by hand so it holds exactly one BEGIN and one END marker (or none), then re-run`,
    )
  }
  const endLine = ends[0]
  const stop = Math.min(lineStart[endLine] + lines[endLine].length + 1, content.length)
  return {start: lineStart[begins[0]], end: stop}
}

/** The file with our block replaced (or appended). `block` must end with a newline. */
export function spliceBlock(content: string, block: string, begin: string, end: string, where?: string): string {
  const span = findBlock(content, begin, end, where)
  if (span) {
    const tail = content.slice(span.end)
    // Keep a missing final newline missing: only the block's own bytes change.
    const body = span.end === content.length && !content.endsWith('\n') ? block.replace(/\n$/, '') : block
    return content.slice(0, span.start) + body + tail
  }
  if (content === '') return block
  return content + (content.endsWith('\n') ? '' : '\n') + block
}

/** The file with our block removed (for teardown). */
export function removeBlock(content: string, begin: string, end: string, where?: string): string {
  const span = findBlock(content, begin, end, where)
  if (!span) return content
  return content.slice(0, span.start) + content.slice(span.end)
}
