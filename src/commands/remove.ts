import {Args, Flags} from '@oclif/core'

import {UserError} from '../core/errors.js'
import {prepareApply} from '../services/apply.js'
import {sshConnector} from '../services/connect.js'
import {checkRemoval, removeFromInventory} from '../services/remove.js'
import {FlowResult, planConfirmApply} from '../ui/apply-flow.js'
import {confirm} from '../ui/confirm.js'
import {colorStyle, plainStyle} from '../ui/plan.js'
import {applyProgress} from '../ui/progress.js'
import {MeshCommand, connectionFlags} from './base.js'

export interface RemoveOutput extends FlowResult {
  removed: string
  inventoryEdited: boolean
}

export default class Remove extends MeshCommand {
  static override summary = 'Remove a host: delete it from the inventory, prune it from every peer, tear it down'
  static override description =
    'Deletes the host from the inventory file (comments and formatting are kept), then applies: peers drop it hitlessly ' +
    '(wg syncconf) and the host itself is torn down over SSH (wg-quick down, its config, the /etc/hosts block and ' +
    '/etc/beam-mesh files removed). An unreachable host stays pending in state.json and the next apply retries.'
  static override examples = ['<%= config.bin %> remove Host-D -i inventory/fleet.yaml --yes']

  static override args = {host: Args.string({required: true, description: 'host name, as in the inventory'})}
  static override flags = {
    ...connectionFlags,
    yes: Flags.boolean({char: 'y', description: 'remove and apply without asking'}),
  }

  async run(): Promise<RemoveOutput> {
    const {args, flags} = await this.parse(Remove)
    const json = this.jsonEnabled()
    const style = !json && process.stdout.isTTY ? colorStyle : plainStyle
    const check = checkRemoval(flags.inventory, args.host, flags.state)
    if (check.inInventory && !flags.yes) {
      if (!process.stdin.isTTY || json) throw new UserError('remove needs confirmation', 'pass --yes')
      if (!(await confirm(`Delete ${check.name} from ${flags.inventory} and tear it down?`))) throw new UserError('cancelled, nothing was changed')
    }
    if (check.inInventory) removeFromInventory(flags.inventory, check.name)
    const progress = applyProgress(json)
    try {
      const session = await prepareApply(
        {inventoryFile: flags.inventory, stateDir: flags.state, concurrency: flags.concurrency},
        (inv) => sshConnector(flags.inventory, inv, {acceptNew: flags['accept-new']}),
        progress,
      )
      try {
        // Consent was given for the removal as a whole: the apply it implies runs without a second question.
        const result = await planConfirmApply(session, {dryRun: false, yes: true, json, diff: flags.diff, style, log: (t) => this.log(t), progress})
        return {...result, removed: check.name, inventoryEdited: check.inInventory}
      } finally {
        await session.close()
      }
    } finally {
      await progress.settle()
    }
  }
}
