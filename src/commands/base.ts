// Shared behaviour of every mesh command: --json, and typed errors shown with their fix and exit code; and of the
// commands that connect to hosts: their common flags (baseFlags) and how they run the apply flow.
import {Command} from '@oclif/core/command'
import {ExitError} from '@oclif/core/errors'
import * as Flags from '@oclif/core/flags'
import type {InferredFlags} from '@oclif/core/interfaces'

import {escapeForTerminal} from '../core/display.js'
import {ConnectionError, ExternalCommandError, InventoryError, UserError} from '../core/errors.js'
import {commandTimeouts} from '../remote/timeouts.js'
import {FlowMode, FlowOutcome, FlowResult, runApplyFlow} from '../services/apply-flow.js'
import {sshConnector} from '../services/connect.js'
import {requireInventory} from '../services/inventory-path.js'
import {DEFAULT_CONCURRENCY} from '../services/limit.js'
import {applyFlowUi} from '../ui/apply-flow.js'

type Known = UserError | ExternalCommandError | ConnectionError

function isKnown(err: unknown): err is Known {
  return err instanceof UserError || err instanceof ExternalCommandError || err instanceof ConnectionError
}

/** No default on purpose: commands that touch hosts never fall back to the example (services/inventory-path.ts). */
export const inventoryFlag = Flags.string({
  char: 'i',
  description: 'inventory file (YAML); default: mesh.yaml in the current directory (never the example)',
  env: 'MESH_INVENTORY',
})

export const stateFlag = Flags.string({
  description: 'state directory (keys, addresses); default: .mesh/<inventory name>/ beside the inventory',
})

/** Seconds for every remote command; without it each kind has its own default (remote/timeouts.ts). */
export function commandTimeoutFlag() {
  return Flags.integer({
    description: 'seconds any one remote command may take before it is stopped (and the host restored); default per kind: facts 120, writes 120, wg-quick/nft/systemctl 300, teardown 300, doctor probes 300',
    min: 1,
    max: 86_400,
  })
}

export abstract class MeshCommand extends Command {
  static override enableJsonFlag = true

  protected override toErrorJson(err: unknown): unknown {
    if (isKnown(err)) {
      return {
        error: {
          kind: err.name,
          message: err.message,
          fix: 'fix' in err ? err.fix : undefined,
          issues: err instanceof InventoryError ? err.issues : undefined,
        },
      }
    }
    return super.toErrorJson(err)
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (!isKnown(err)) return super.catch(err)
    process.exitCode = err.exitCode
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(err))
      return
    }
    const fix = 'fix' in err && err.fix ? `\nFix: ${err.fix}` : ''
    // Messages carry host output (stderr of a remote command) and file contents: shown escaped.
    this.logToStderr(escapeForTerminal(`Error: ${err.message}${fix}`, {newlines: true}))
    throw new ExitError(err.exitCode)
  }
}

/** The commands that run the apply flow show file diffs in the plan unless --no-diff. */
export const diffFlag = Flags.boolean({description: 'show file diffs in the plan (default: on)', default: true, allowNo: true})

export const hostsFlag = Flags.string({description: 'comma-separated host names to touch (configs still come from the whole inventory)'})

/** The commands that connect to the hosts (apply, plan, remove, rotate-keys, doctor): their shared flags. */
export abstract class HostsCommand extends MeshCommand {
  static override baseFlags = {
    inventory: inventoryFlag,
    state: stateFlag,
    concurrency: Flags.integer({description: 'hosts worked on at once, 1-256', default: DEFAULT_CONCURRENCY, min: 1, max: 256}),
    'accept-new': Flags.boolean({description: 'trust and record host keys never seen before (a CHANGED key is always refused)'}),
    'command-timeout': commandTimeoutFlag(),
  }

  /** The apply flow (plan, confirm, execute) with the terminal UI; sets the exit code from its outcome. */
  protected async applyFlow(flags: FlowFlags, mode: FlowMode): Promise<FlowResult> {
    const inventory = requireInventory(flags.inventory)
    const hosts = flags.hosts?.split(',').map((h) => h.trim()).filter(Boolean)
    const outcome = await runApplyFlow(
      {
        inventoryFile: inventory,
        stateDir: flags.state,
        hosts,
        concurrency: flags.concurrency,
        commandTimeoutSeconds: flags['command-timeout'],
        connector: (inv) => sshConnector(inventory, inv, {acceptNew: flags['accept-new'], commandTimeoutMs: commandTimeouts(flags['command-timeout']).activate}),
      },
      mode,
      applyFlowUi({json: this.jsonEnabled(), diff: flags.diff, log: (t) => this.log(t)}),
    )
    const code = flowExitCode(outcome)
    if (code) process.exitCode = code
    return outcome.result
  }
}

/** The flags every host command has, as parsed (types inferred from the flag definitions). */
export type HostsFlags = InferredFlags<typeof HostsCommand.baseFlags>

/** What the apply flow reads: the host flags, --diff, and --hosts where the command has it. */
export type FlowFlags = HostsFlags & {diff: boolean; hosts?: string}

/** 130 after Ctrl-C (never success), 2 when a host failed for a reason the user fixes there, 1 on other failures. */
export function flowExitCode(outcome: FlowOutcome): number {
  if (outcome.interrupted) return 130
  if (!outcome.result.failed) return 0
  return outcome.result.hosts.some((h) => h.fixable) ? 2 : 1
}
