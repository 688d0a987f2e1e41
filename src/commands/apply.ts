import {Flags} from '@oclif/core'

import {prepareApply, withCloseNotes} from '../services/apply.js'
import {requireInventory} from '../services/inventory-path.js'
import {commandTimeouts} from '../remote/timeouts.js'
import {sshConnector} from '../services/connect.js'
import {FlowResult, planConfirmApply} from '../ui/apply-flow.js'
import {applyExitCodes} from '../ui/exit-codes.js'
import {colorStyle, plainStyle} from '../ui/plan.js'
import {applyProgress} from '../ui/progress.js'
import {MeshCommand, connectionFlags} from './base.js'

export type ApplyOutput = FlowResult

/** The flags of every command that plans against the hosts (apply, plan). */
export const sessionFlags = {
  ...connectionFlags,
  hosts: Flags.string({description: 'comma-separated host names to touch (configs still come from the whole inventory)'}),
}

interface SessionFlags {
  inventory?: string
  state?: string
  hosts?: string
  concurrency: number
  'accept-new': boolean
  diff: boolean
  'command-timeout'?: number
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

  static exitCodes = applyExitCodes

  static override flags = {
    ...sessionFlags,
    'dry-run': Flags.boolean({description: 'show the plan and change nothing (same as `mesh plan`)'}),
    yes: Flags.boolean({char: 'y', description: 'apply without asking'}),
  }

  async run(): Promise<ApplyOutput> {
    const {flags} = await this.parse(Apply)
    return planAndApply(this, flags, {dryRun: Boolean(flags['dry-run']), yes: flags.yes})
  }
}

/** How a command runs the apply flow: `plan` always dry, `remove` with consent already given, `rotate-keys` with onExecute. */
export interface ApplyMode {
  dryRun: boolean
  yes: boolean
  /** Called once consent is given, just before anything on a host changes. */
  onExecute?: () => void
}

/** The body of `mesh apply`, shared with `mesh plan`, `mesh remove` and `mesh rotate-keys`. */
export async function planAndApply(cmd: MeshCommand, flags: SessionFlags, mode: ApplyMode): Promise<ApplyOutput> {
  const json = cmd.jsonEnabled()
  const style = !json && process.stdout.isTTY ? colorStyle : plainStyle
  // A listr2 board when stderr is a terminal, plain `[host] message` lines otherwise; never on stdout.
  const progress = applyProgress(json)
  const inventory = requireInventory(flags.inventory)
  const hosts = flags.hosts?.split(',').map((h) => h.trim()).filter(Boolean)
  try {
    const session = await prepareApply(
      // A preview only reports a file torn by an interrupted write; an apply puts its old bytes back first.
      {inventoryFile: inventory, stateDir: flags.state, hosts, concurrency: flags.concurrency, dryRun: mode.dryRun, commandTimeoutSeconds: flags['command-timeout'], repair: !mode.dryRun},
      (inv) => sshConnector(inventory, inv, {acceptNew: flags['accept-new'], commandTimeoutMs: commandTimeouts(flags['command-timeout']).activate}),
      progress,
    )
    let result: ApplyOutput | undefined
    try {
      result = await planConfirmApply(session, {...mode, json, diff: flags.diff, style, log: (t) => cmd.log(t), progress})
    } finally {
      // Bounded: a host that vanished after its work is a note below, never a hang.
      const notes = await session.close()
      if (result) result = withCloseNotes(result, notes)
      for (const n of notes) cmd.log(`note: ${n.name}: ${n.note}`)
    }
    return result
  } finally {
    await progress.settle() // before oclif prints an error, and so no spinner timer keeps the process alive
  }
}
