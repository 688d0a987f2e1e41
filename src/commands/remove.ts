import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {UserError} from '../core/errors.js'
import {requireInventory} from '../services/inventory-path.js'
import {checkRemoval, removeFromInventory} from '../services/remove.js'
import {lockStateDir} from '../state/lock.js'
import {defaultStateDir} from '../state/store.js'
import {confirm} from '../ui/confirm.js'
import {applyExitCodes} from '../ui/exit-codes.js'
import type {FlowResult} from '../services/apply-flow.js'
import {HostsCommand, diffFlag} from './base.js'

export interface RemoveOutput extends FlowResult {
  removed: string
  inventoryEdited: boolean
}

export default class Remove extends HostsCommand {
  static override summary = 'Remove a host: delete it from the inventory, prune it from every peer, tear it down'
  static override description =
    'Deletes the host from the inventory file (comments and formatting are kept), then applies: peers drop it hitlessly ' +
    '(wg syncconf) and the host itself is torn down over SSH (wg-quick down, its config, the /etc/hosts block and ' +
    '/etc/beam-mesh files removed). An unreachable host stays pending in state.json and the next apply retries.'
  static override examples = ['<%= config.bin %> remove Host-D -i inventory/fleet.yaml --yes']

  static exitCodes = applyExitCodes
  static override args = {host: Args.string({required: true, description: 'host name, as in the inventory'})}
  static override flags = {
    diff: diffFlag,
    yes: Flags.boolean({char: 'y', description: 'remove and apply without asking'}),
  }

  async run(): Promise<RemoveOutput> {
    const {args, flags: parsed} = await this.parse(Remove)
    const flags = {...parsed, inventory: requireInventory(parsed.inventory)}
    const json = this.jsonEnabled()
    const check = checkRemoval(flags.inventory, args.host, flags.state)
    if (check.inInventory && !flags.yes) {
      if (!process.stdin.isTTY || json) throw new UserError('remove needs confirmation', 'pass --yes')
      if (!(await confirm(`Delete ${check.name} from ${flags.inventory} and tear it down?`))) throw new UserError('cancelled, nothing was changed')
    }
    // The lock before the inventory edit, held through the apply (which nests in it): a refused remove changed nothing.
    const lock = lockStateDir(flags.state ?? defaultStateDir(flags.inventory), 'remove')
    try {
      if (check.inInventory) removeFromInventory(flags.inventory, check.name)
      // Consent was given for the removal as a whole: the apply it implies runs without a second question.
      const result = await this.applyFlow(flags, {dryRun: false, yes: true})
      return {...result, removed: check.name, inventoryEdited: check.inInventory}
    } finally {
      lock.release()
    }
  }
}
