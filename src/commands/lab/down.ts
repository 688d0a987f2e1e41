import {LabDownResult, labDown} from '../../services/lab/index.js'
import {MeshCommand} from '../base.js'
import {dirFlag, prefixFlag} from './up.js'

export default class LabDown extends MeshCommand {
  static override summary = 'Remove the lab: its processes, namespaces, veths, bridge and the files it wrote'
  static override description =
    'Works from lab.json and from the name prefix, so a half-made or crashed lab is cleaned up too. Running it twice is harmless.'
  static override examples = ['<%= config.bin %> lab down', '<%= config.bin %> lab down --dir /tmp/lab --prefix bmx']

  static override flags = {
    dir: dirFlag,
    prefix: prefixFlag,
  }

  async run(): Promise<LabDownResult> {
    const {flags} = await this.parse(LabDown)
    const result = await labDown({dir: flags.dir, prefix: flags.prefix, onProgress: (m) => process.stderr.write(`lab: ${m}\n`)})
    this.log(
      result.alreadyClean
        ? `nothing to remove: no lab (prefix ${result.prefix}) in ${result.dir}`
        : [
            `lab removed (prefix ${result.prefix}):`,
            `  processes stopped: ${result.killedPids.length}`,
            `  namespaces:        ${result.namespacesDeleted.join(', ') || 'none'}`,
            `  links:             ${result.linksDeleted.join(', ') || 'none'}`,
            `  files:             ${result.filesRemoved.length} removed from ${result.dir}`,
          ].join('\n'),
    )
    return result
  }
}
