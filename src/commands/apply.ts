import * as Flags from '@oclif/core/flags'

import type {FlowResult} from '../services/apply-flow.js'
import {applyExitCodes} from '../ui/exit-codes.js'
import {HostsCommand, diffFlag, hostsFlag} from './base.js'

export default class Apply extends HostsCommand {
  static override summary = 'Push the mesh to every host over SSH: plan, confirm, write safely, bring wg up or sync it hitlessly'
  static override description =
    'Connects to all hosts in parallel (host keys checked against known_hosts), gathers facts, shows a plan with diffs, ' +
    'and applies it. A host that fails is restored to its previous state; the others carry on. Re-running changes nothing.'
  static override examples = [
    '<%= config.bin %> apply -i inventory/fleet.yaml --dry-run',
    '<%= config.bin %> apply -i inventory/fleet.yaml --yes',
    '<%= config.bin %> apply -i inventory/fleet.yaml --hosts Host-B,Host-C --yes',
  ]

  static exitCodes = applyExitCodes

  static override flags = {
    diff: diffFlag,
    hosts: hostsFlag,
    'dry-run': Flags.boolean({description: 'show the plan and change nothing (same as `mesh plan`)'}),
    yes: Flags.boolean({char: 'y', description: 'apply without asking'}),
  }

  async run(): Promise<FlowResult> {
    const {flags} = await this.parse(Apply)
    return this.applyFlow(flags, {dryRun: flags['dry-run'], yes: flags.yes})
  }
}
