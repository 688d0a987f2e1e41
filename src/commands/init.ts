import {Flags} from '@oclif/core'

import {InitResult, runInit} from '../services/init.js'
import {MeshCommand, inventoryFlag, stateFlag} from './base.js'

export default class Init extends MeshCommand {
  static override summary = 'Validate the inventory, allocate addresses, create missing keys and render every host\'s files'
  static override description =
    'Offline: no SSH. Keys and addresses are kept in the state directory and never regenerated or moved on a re-run. ' +
    'The output folder (default: out/<inventory name>/ beside the inventory) holds each host\'s wg-quick config and the /etc/hosts block for review.'
  static override examples = ['<%= config.bin %> init -i inventory/example.yaml', '<%= config.bin %> init -i fleet.yaml --out review/ --json']

  static override flags = {
    inventory: inventoryFlag,
    state: stateFlag,
    out: Flags.string({char: 'o', description: 'output folder for the rendered files'}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const result = runInit({inventoryFile: flags.inventory, stateDir: flags.state, outDir: flags.out})
    this.log(summarize(result))
    return result
  }
}

function summarize(r: InitResult): string {
  const width = Math.max(...r.hosts.map((h) => h.name.length), 4)
  const rows = r.hosts.map(
    (h) => `  ${h.name.padEnd(width)}  ${[h.ipv4, h.ipv6].filter(Boolean).join(', ').padEnd(20)}  endpoint ${h.endpoint}`,
  )
  const lines = [
    `${r.hosts.length} hosts on ${r.interface}:`,
    ...rows,
    `keys: ${r.createdKeys.length ? `created for ${r.createdKeys.join(', ')}` : 'all existed, none changed'}`,
    ...r.notes.map((n) => `note: ${n}`),
    `state:  ${r.stateDir}`,
    `output: ${r.outDir} (${r.written.length ? `${r.written.length} files written` : 'unchanged'})`,
  ]
  return lines.join('\n')
}
