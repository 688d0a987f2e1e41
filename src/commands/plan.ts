import {ApplyOutput, planAndApply, sessionFlags} from './apply.js'
import {planExitCodes} from '../ui/exit-codes.js'
import {MeshCommand} from './base.js'

export default class Plan extends MeshCommand {
  static override summary = 'Show what `mesh apply` would change on every host, with diffs; change nothing'
  static override description =
    'The same as `mesh apply --dry-run`: connects (host keys checked), gathers facts and prints the plan. ' +
    'A host that cannot be reached is named first in the summary.'
  static override examples = ['<%= config.bin %> plan -i inventory/fleet.yaml', '<%= config.bin %> plan -i inventory/fleet.yaml --json']
  static exitCodes = planExitCodes
  static override flags = sessionFlags

  async run(): Promise<ApplyOutput> {
    const {flags} = await this.parse(Plan)
    return planAndApply(this, flags, {dryRun: true, yes: false})
  }
}
