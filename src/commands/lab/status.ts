import {UserError} from '../../core/errors.js'
import {LabStatusResult, labStatus} from '../../lab/index.js'
import {findLabs, selectLab} from '../../lab/find.js'
import {labStatusExitCodes} from '../../ui/exit-codes.js'
import {MeshCommand} from '../base.js'
import {selectionFlags} from './base.js'

/** Without a selection flag: every lab found on this machine. */
export interface AllLabsStatus {
  labs: LabStatusResult[]
  healthy: boolean
}

export default class LabStatus extends MeshCommand {
  static override summary = 'Show one lab (--dir, --prefix or --net) or every lab on this machine: hosts and whether their sshd answers'
  static override description =
    'With --dir, --prefix or --net (the flags lab up was given), that lab; --json is then its status. ' +
    'With none, every lab found (./lab and those whose sshds run); --json is {labs: [...], healthy}.'
  static override examples = ['<%= config.bin %> lab status', '<%= config.bin %> lab status --net 7', '<%= config.bin %> lab status --dir /tmp/lab --json']
  static exitCodes = labStatusExitCodes

  static override flags = selectionFlags

  async run(): Promise<AllLabsStatus | LabStatusResult> {
    const {flags} = await this.parse(LabStatus)
    const selecting = flags.dir !== undefined || flags.prefix !== undefined || flags.net !== undefined
    if (selecting) {
      const found = selectLab(flags)
      if (!found) throw new UserError(`no lab matches ${describe(flags)}`, 'see every lab with `mesh lab status`, or start one with `mesh lab up`')
      const r = await labStatus({dir: found.dir})
      this.log(render(r))
      if (!r.healthy) process.exitCode = 1
      return r
    }
    const labs = await Promise.all(findLabs().map((l) => labStatus({dir: l.dir})))
    this.log(labs.length ? labs.map(render).join('\n\n') : 'no lab found (none in ./lab, no lab sshd running)')
    const healthy = labs.every((r) => r.healthy)
    if (!healthy) process.exitCode = 1
    return {labs, healthy}
  }
}

function describe(f: {dir?: string; prefix?: string; net?: number}): string {
  return [f.dir !== undefined && `--dir ${f.dir}`, f.prefix !== undefined && `--prefix ${f.prefix}`, f.net !== undefined && `--net ${f.net}`].filter(Boolean).join(' ')
}

function render(r: LabStatusResult): string {
  const rows = r.hosts.map((h) => {
    const state = h.sshBanner ? 'ssh answers' : !h.namespaceExists ? 'namespace missing' : h.sshdRunning ? 'sshd not answering' : 'sshd not running'
    return `  ${h.name.padEnd(8)}  ${h.address.padEnd(12)}  ${h.namespace.padEnd(12)}  pid ${String(h.pid ?? '-').padEnd(8)}  ${state}`
  })
  return [
    `lab in ${r.dir} (prefix ${r.prefix}): bridge ${r.bridge} ${r.bridgeUp ? 'up' : 'DOWN or missing'}, ${r.healthy ? 'all hosts healthy' : 'NOT healthy'}`,
    ...rows,
    `inventory: ${r.inventory}`,
  ].join('\n')
}
