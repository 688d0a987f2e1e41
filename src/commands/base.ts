// Shared behaviour of every mesh command: --json, and typed errors shown with their fix and exit code.
import {Command, Errors, Flags} from '@oclif/core'

import {escapeForTerminal} from '../core/display.js'
import {ConnectionError, ExternalCommandError, InventoryError, UserError} from '../core/errors.js'

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

/** The flags of every command that connects to the hosts and may change them (apply, plan, remove, rotate-keys). */
export const connectionFlags = {
  inventory: inventoryFlag,
  state: stateFlag,
  concurrency: Flags.integer({description: 'hosts worked on at once, 1-256', default: 8, min: 1, max: 256}),
  'accept-new': Flags.boolean({description: 'trust and record host keys never seen before (a CHANGED key is always refused)'}),
  diff: Flags.boolean({description: 'show file diffs in the plan (default: on)', default: true, allowNo: true}),
  'command-timeout': commandTimeoutFlag(),
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
    throw new Errors.ExitError(err.exitCode)
  }
}
