import {DEFAULT_DIR, LabDownResult, labDown, labNet} from '../../lab/index.js'
import {selectLab} from '../../lab/find.js'
import {labDownExitCodes} from '../../ui/exit-codes.js'
import {MeshCommand} from '../base.js'
import {selectionFlags} from './base.js'

export default class LabDown extends MeshCommand {
  static override summary = 'Remove the lab: its processes, namespaces, veths, bridge and the files it wrote'
  static override description =
    'Works from lab.json and from the name prefix, so a half-made or crashed lab is cleaned up too. Running it twice is harmless. ' +
    'Select the lab with the flags lab up was given (--dir, --prefix, --net); with none, the lab in ./lab.'
  static override examples = ['<%= config.bin %> lab down', '<%= config.bin %> lab down --dir /tmp/lab --prefix bmx', '<%= config.bin %> lab down --net 7']
  static exitCodes = labDownExitCodes

  static override flags = selectionFlags

  async run(): Promise<LabDownResult> {
    const {flags} = await this.parse(LabDown)
    const found = selectLab(flags)
    const onProgress = (m: string) => process.stderr.write(`lab: ${m}\n`)
    let result: LabDownResult
    if (found) result = await labDown({dir: found.dir, prefix: found.prefix, onProgress})
    else if (flags.net !== undefined && flags.dir === undefined) {
      // No recorded lab on that net: nothing is known to be ours there, so nothing is touched.
      const subnet = labNet(flags.net).subnet
      result = {dir: subnet, prefix: flags.prefix ?? '', killedPids: [], namespacesDeleted: [], linksDeleted: [], unmounted: [], filesRemoved: [], alreadyClean: true}
    } else result = await labDown({dir: flags.dir ?? DEFAULT_DIR, prefix: flags.prefix, onProgress})
    this.log(
      result.alreadyClean
        ? `nothing to remove: no lab (prefix ${result.prefix || 'any'}) in ${result.dir}`
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
