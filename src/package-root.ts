// The package's own files (ejs templates, the example inventory) are found from its root: the nearest folder
// above this module that holds package.json. The module itself runs at different depths (src/ under tsx in
// tests and benches, dist/chunks/ once the build has bundled it), so a path relative to it is wrong in one.
import {existsSync} from 'node:fs'
import {dirname, join, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = fileURLToPath(import.meta.url)
let root: string | undefined

/** The package's root folder (beam-mesh's package.json is there). */
export function packageRoot(): string {
  if (root) return root
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return (root = dir)
    if (dirname(dir) === dir) throw new Error(`beam-mesh is installed without its package.json (looked above ${here})`)
  }
}

/** The folder of the running code: src/ under tsx, dist/ when built. Templates sit in its templates/. */
export function codeDir(): string {
  const src = join(packageRoot(), 'src')
  return here.startsWith(src + sep) ? src : join(packageRoot(), 'dist')
}
