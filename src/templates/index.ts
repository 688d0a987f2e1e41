// Loads and compiles the ejs templates shipped in src/templates (copied to dist/templates by the build).
import ejs from 'ejs'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {codeDir} from '../package-root.js'

const cache = new Map<string, ejs.TemplateFunction>()

export function renderTemplate(name: string, data: Record<string, unknown>): string {
  let fn = cache.get(name)
  if (!fn) {
    const file = join(codeDir(), 'templates', name)
    fn = ejs.compile(readFileSync(file, 'utf8'), {filename: name, strict: true, localsName: 'it', rmWhitespace: false, escape: (s: unknown) => String(s)})
    cache.set(name, fn)
  }
  return fn(data)
}
