import * as Flags from '@oclif/core/flags'

import {LabUpResult, MAX_LAB_HOSTS, labUp} from '../../lab/index.js'
import {labUpExitCodes} from '../../ui/exit-codes.js'
import {MeshCommand} from '../base.js'
import {dirFlag, prefixFlag} from './base.js'

export default class LabUp extends MeshCommand {
  static override summary = 'Create N test hosts in network namespaces, each with its own sshd, hostname, /etc/hosts and /etc/wireguard'
  static override description =
    'Root and Linux only. Hosts Host-1..Host-N sit on a bridge at 198.18.0.0/24 (gateway 198.18.0.1, hosts .2, .3, …) and run ' +
    'sshd on port 22. The lab directory gets a client key, known_hosts and a ready inventory.yaml for the other mesh commands.'
  static override examples = ['<%= config.bin %> lab up --hosts 3', '<%= config.bin %> lab up --hosts 5 --dir /tmp/lab --prefix bmx --json']

  static exitCodes = labUpExitCodes

  static override flags = {
    hosts: Flags.integer({char: 'n', description: `number of hosts, 1-${MAX_LAB_HOSTS}`, default: 3, min: 1, max: MAX_LAB_HOSTS}),
    dir: dirFlag,
    prefix: prefixFlag,
    net: Flags.integer({description: 'use 198.18.NET.0/24, so several labs can be up at once, 0-255 (default: 0)', default: 0, min: 0, max: 255}),
  }

  async run(): Promise<LabUpResult> {
    const {flags} = await this.parse(LabUp)
    const result = await labUp({
      hosts: flags.hosts,
      dir: flags.dir,
      prefix: flags.prefix,
      net: flags.net,
      onProgress: (m) => process.stderr.write(`lab: ${m}\n`),
    })
    this.log(summarize(result))
    return result
  }
}

function summarize(r: LabUpResult): string {
  return [
    `${r.hosts.length} lab hosts up on ${r.bridge} (${r.subnet}):`,
    ...r.hosts.map((h) => `  ${h.name.padEnd(8)}  ${h.address.padEnd(12)}  namespace ${h.namespace}  sshd pid ${h.pid}`),
    `inventory: ${r.inventory}`,
    `try:       ${r.sshExample} hostname`,
    `remove:    mesh lab down --dir ${r.dir}`,
  ].join('\n')
}
