import type {FlowResult} from '../services/apply-flow.js'
import {planExitCodes} from '../ui/exit-codes.js'
import {HostsCommand, diffFlag, hostsFlag} from './base.js'

export default class Plan extends HostsCommand {
  static override summary = 'Show what `mesh apply` would change on every host, with diffs; change nothing'
  static override description =
    'The same as `mesh apply --dry-run`: connects (host keys checked), gathers facts and prints the plan. ' +
    'A host that cannot be reached is named first in the summary.'
  static override examples = ['<%= config.bin %> plan -i inventory/fleet.yaml', '<%= config.bin %> plan -i inventory/fleet.yaml --json']
  static exitCodes = planExitCodes
  static override flags = {diff: diffFlag, hosts: hostsFlag}

  async run(): Promise<FlowResult> {
    const {flags} = await this.parse(Plan)
    return this.applyFlow(flags, {dryRun: true, yes: false})
  }
}
