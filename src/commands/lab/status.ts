import {LabStatusResult, labStatus} from '../../services/lab/index.js'
import {MeshCommand} from '../base.js'
import {dirFlag} from './up.js'

export default class LabStatus extends MeshCommand {
  static override summary = 'Show the lab hosts and whether their sshd answers'
  static override examples = ['<%= config.bin %> lab status', '<%= config.bin %> lab status --dir /tmp/lab --json']

  static override flags = {
    dir: dirFlag,
  }

  async run(): Promise<LabStatusResult> {
    const {flags} = await this.parse(LabStatus)
    const r = await labStatus({dir: flags.dir})
    const rows = r.hosts.map((h) => {
      const state = h.sshBanner ? 'ssh answers' : !h.namespaceExists ? 'namespace missing' : h.sshdRunning ? 'sshd not answering' : 'sshd not running'
      return `  ${h.name.padEnd(8)}  ${h.address.padEnd(12)}  ${h.namespace.padEnd(12)}  pid ${String(h.pid ?? '-').padEnd(8)}  ${state}`
    })
    this.log(
      [
        `lab in ${r.dir}: bridge ${r.bridge} ${r.bridgeUp ? 'up' : 'DOWN or missing'}, ${r.healthy ? 'all hosts healthy' : 'NOT healthy'}`,
        ...rows,
        `inventory: ${r.inventory}`,
      ].join('\n'),
    )
    if (!r.healthy) process.exitCode = 1
    return r
  }
}
