import * as Flags from '@oclif/core/flags'
import {resolve} from 'node:path'

import {InitResult, runInit} from '../services/init.js'
import {InventorySource, initInventory} from '../services/inventory-path.js'
import {initExitCodes} from '../ui/exit-codes.js'
import {MeshCommand, stateFlag} from './base.js'

export interface InitOutput extends InitResult {
  /** The inventory used, and how it was chosen (flag, env, cwd = ./mesh.yaml, example = the bundled one). */
  inventory: string
  inventorySource: InventorySource
}

export default class Init extends MeshCommand {
  static override summary = 'Validate the inventory, allocate addresses, create missing keys and render every host\'s files'
  static override description =
    'Offline: no SSH. Keys and addresses are kept in the state directory and never regenerated or moved on a re-run. ' +
    'The output folder (default: out/<inventory name>/ beside the inventory) holds each host\'s wg-quick config and the /etc/hosts block for review. ' +
    'Without -i, $MESH_INVENTORY or a mesh.yaml here, it renders the example inventory shipped with mesh, into .mesh/example/ and out/example/ in the current directory.'
  static override examples = ['<%= config.bin %> init -i inventory/example.yaml', '<%= config.bin %> init -i fleet.yaml --out review/ --json']

  static exitCodes = initExitCodes

  static override flags = {
    inventory: Flags.string({
      char: 'i',
      description: 'inventory file (YAML); default: mesh.yaml in the current directory, else the bundled example',
      env: 'MESH_INVENTORY',
    }),
    state: stateFlag,
    out: Flags.string({char: 'o', description: 'output folder for the rendered files'}),
  }

  async run(): Promise<InitOutput> {
    const {flags} = await this.parse(Init)
    const inventory = initInventory(flags.inventory)
    // The example lives inside the package (maybe read-only, shared): its state and output go to the current directory.
    const example = inventory.source === 'example'
    const result = runInit({
      inventoryFile: inventory.file,
      stateDir: flags.state ?? (example ? resolve('.mesh', 'example') : undefined),
      outDir: flags.out ?? (example ? resolve('out', 'example') : undefined),
    })
    this.log(summarize(result, inventory.source, inventory.file))
    return {...result, inventory: inventory.file, inventorySource: inventory.source}
  }
}

function summarize(r: InitResult, source: InventorySource, file: string): string {
  const width = Math.max(...r.hosts.map((h) => h.name.length), 4)
  const rows = r.hosts.map(
    (h) => `  ${h.name.padEnd(width)}  ${[h.ipv4, h.ipv6].filter(Boolean).join(', ').padEnd(20)}  endpoint ${h.endpoint}`,
  )
  const lines = [
    ...(source === 'example' ? [`inventory: the bundled example ${file} (no -i, no $MESH_INVENTORY, no mesh.yaml here); pass -i FILE for your own`] : []),
    `${r.hosts.length} hosts on ${r.interface}:`,
    ...rows,
    r.keys === 'host'
      ? `keys: made and kept by each host (network.keys: host); ${r.pendingKeys.length ? `public keys pending for ${r.pendingKeys.join(', ')}: \`mesh apply\` collects them` : 'every public key collected'}`
      : `keys: ${r.createdKeys.length ? `created for ${r.createdKeys.join(', ')}` : 'all existed, none changed'}`,
    ...r.notes.map((n) => `note: ${n}`),
    `state:  ${r.stateDir}`,
    `output: ${r.outDir} (${r.written.length ? `${r.written.length} files written` : 'unchanged'})`,
  ]
  return lines.join('\n')
}
