// The compiled code looks for its ejs templates next to itself (dist/templates).
import {cpSync} from 'node:fs'

cpSync(new URL('../src/templates/', import.meta.url), new URL('../dist/templates/', import.meta.url), {
  recursive: true,
  filter: (src) => !src.endsWith('.ts'),
})
