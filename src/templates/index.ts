// Loads and compiles the ejs templates that sit beside this file (src/templates or dist/templates).
import ejs from 'ejs'
import {readFileSync} from 'node:fs'

const cache = new Map<string, ejs.TemplateFunction>()

export function renderTemplate(name: string, data: Record<string, unknown>): string {
  let fn = cache.get(name)
  if (!fn) {
    const file = new URL(`./${name}`, import.meta.url)
    fn = ejs.compile(readFileSync(file, 'utf8'), {filename: name, strict: true, localsName: 'it', rmWhitespace: false, escape: (s: unknown) => String(s)})
    cache.set(name, fn)
  }
  return fn(data)
}
