import {Flags} from '@oclif/core'

import {UserError} from '../core/errors.js'
import {isNoop} from '../core/plan.js'
import {ApplyResult, executeApply, planResult, prepareApply} from '../services/apply.js'
import {sshConnector} from '../services/connect.js'
import {confirm} from '../ui/confirm.js'
import {colorStyle, plainStyle, renderPlan, renderResult} from '../ui/plan.js'
import {stderrProgress} from '../ui/progress.js'
import {MeshCommand, inventoryFlag, stateFlag} from './base.js'

export interface ApplyOutput extends ApplyResult {
  dryRun: boolean
}

export default class Apply extends MeshCommand {
  static override summary = 'Push the mesh to every host over SSH: plan, confirm, write safely, bring wg up or sync it hitlessly'
  static override description =
    'Connects to all hosts in parallel (host keys checked against known_hosts), gathers facts, shows a plan with diffs, ' +
    'and applies it. A host that fails is restored to its previous state; the others carry on. Re-running changes nothing.'
  static override examples = [
    '<%= config.bin %> apply -i inventory/fleet.yaml --dry-run',
    '<%= config.bin %> apply -i inventory/fleet.yaml --yes',
    '<%= config.bin %> apply -i inventory/fleet.yaml --hosts Host-B,Host-C --yes',
  ]

  static override flags = {
    inventory: inventoryFlag,
    state: stateFlag,
    'dry-run': Flags.boolean({description: 'show the plan and change nothing'}),
    yes: Flags.boolean({char: 'y', description: 'apply without asking'}),
    hosts: Flags.string({description: 'comma-separated host names to touch (configs still come from the whole inventory)'}),
    concurrency: Flags.integer({description: 'hosts worked on at once', default: 8, min: 1, max: 256}),
    'accept-new': Flags.boolean({description: 'trust and record host keys never seen before (a CHANGED key is always refused)'}),
    diff: Flags.boolean({description: 'show file diffs in the plan', default: true, allowNo: true}),
  }

  async run(): Promise<ApplyOutput> {
    const {flags} = await this.parse(Apply)
    const json = this.jsonEnabled()
    const style = !json && process.stdout.isTTY ? colorStyle : plainStyle
    const progress = stderrProgress(!json)
    const hosts = flags.hosts?.split(',').map((h) => h.trim()).filter(Boolean)
    const session = await prepareApply(
      {inventoryFile: flags.inventory, stateDir: flags.state, hosts, concurrency: flags.concurrency},
      (inv) => sshConnector(flags.inventory, inv, {acceptNew: flags['accept-new']}),
      progress,
    )
    try {
      this.log(renderPlan(session.sessions, style, flags.diff))
      const pending = session.sessions.filter((s) => s.plan && !isNoop(s.plan))
      if (flags['dry-run'] || pending.length === 0) {
        const result = planResult(session)
        if (!pending.length) this.log('Nothing to change.')
        if (result.failed) process.exitCode = 1
        return {...result, dryRun: Boolean(flags['dry-run'])}
      }
      if (!flags.yes) {
        if (!process.stdin.isTTY || json) throw new UserError('apply needs confirmation', 'review the plan with --dry-run, then pass --yes')
        if (!(await confirm(`Apply these changes to ${pending.length} host(s)?`))) throw new UserError('cancelled, nothing was changed')
      }
      const result = await executeApply(session, progress)
      this.log(renderResult(result, style))
      if (result.failed) process.exitCode = 1
      return {...result, dryRun: false}
    } finally {
      await session.close()
    }
  }
}
