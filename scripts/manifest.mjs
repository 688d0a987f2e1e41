// Writes oclif.manifest.json (what `oclif manifest` does), so the CLI starts without importing every
// command module just to list them: `mesh --version` and `mesh init` load only what they use.
import {Plugin} from '@oclif/core'
import {writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const plugin = new Plugin({root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true})
await plugin.load()
writeFileSync(new URL('../oclif.manifest.json', import.meta.url), `${JSON.stringify(plugin.manifest, null, 2)}\n`)
console.error(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`)
