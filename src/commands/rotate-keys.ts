import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {requireInventory} from '../services/inventory-path.js'
import {startRotation} from '../services/rotate.js'
import {applyExitCodes} from '../ui/exit-codes.js'
import type {FlowResult} from '../services/apply-flow.js'
import {HostsCommand, diffFlag} from './base.js'

export interface RotateOutput extends FlowResult {
  kind: 'keys' | 'psks'
  created: string[]
  resumed: string[]
}

export default class RotateKeys extends HostsCommand {
  static override summary = 'New WireGuard key pairs (or preshared keys) for some or all hosts, rolled out with one handshake of outage'
  static override description =
    'Writes the new keys beside the old ones as pending (.next, 0600), pushes them (peers first, then the rotated hosts, ' +
    'all with wg syncconf) and commits them only when every host runs them. An interrupted rotation is finished by ' +
    're-running rotate-keys or apply.'
  static override examples = [
    '<%= config.bin %> rotate-keys -i inventory/fleet.yaml --yes',
    '<%= config.bin %> rotate-keys Host-B -i inventory/fleet.yaml --yes',
    '<%= config.bin %> rotate-keys --psk -i inventory/fleet.yaml --yes',
  ]

  static exitCodes = applyExitCodes
  static override strict = false
  static override args = {hosts: Args.string({description: 'host names (default: all)'})}
  static override flags = {
    diff: diffFlag,
    psk: Flags.boolean({description: 'rotate the per-pair preshared keys (of pairs with a named host) instead of key pairs'}),
    'dry-run': Flags.boolean({description: 'show the plan and change nothing'}),
    yes: Flags.boolean({char: 'y', description: 'rotate without asking'}),
  }

  async run(): Promise<RotateOutput> {
    const {argv, flags: parsed} = await this.parse(RotateKeys)
    const flags = {...parsed, inventory: requireInventory(parsed.inventory)}
    const started = startRotation({inventoryFile: flags.inventory, stateDir: flags.state, hosts: argv as string[], psk: flags.psk})
    let done = false // once hosts may have the new keys, the pending files must stay until committed
    try {
      const onExecute = () => (done = true)
      const result = await this.applyFlow(flags, {dryRun: Boolean(flags['dry-run']), yes: flags.yes, onExecute})
      return {...result, kind: started.kind, created: started.created, resumed: started.resumed}
    } finally {
      // A dry run or a refused confirmation leaves no pending key behind for a later apply to roll out.
      if (!done) started.discard()
      started.release()
    }
  }
}
