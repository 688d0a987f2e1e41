import * as Flags from '@oclif/core/flags'

import type {DoctorReport} from '../core/doctor-report.js'
import {sshConnector} from '../services/connect.js'
import {runDoctor} from '../services/doctor.js'
import {requireInventory} from '../services/inventory-path.js'
import {doctorExitCodes} from '../ui/exit-codes.js'
import {renderCluster} from '../ui/cluster.js'
import {renderFindings, renderMatrix} from '../ui/matrix.js'
import {listrProgress, stderrProgress} from '../ui/progress.js'
import {commandTimeouts} from '../remote/timeouts.js'
import {HostsCommand} from './base.js'

export default class Doctor extends HostsCommand {
  static override summary = 'Check the mesh from every host to every peer, through the tunnel: WireGuard, names, EPMD, distribution'
  static override description =
    'Read-only. Per host: interface, hostname, /etc/hosts. Per pair: ping, handshake age, name resolution, EPMD NAMES and the ' +
    'distribution port, dialled from the host through its SSH session. EPMD and distribution must not answer on public addresses. ' +
    'Prints an N×N matrix and every finding with a fix; exit code 1 on any failure. Then the cluster as the nodes see it: a hidden ' +
    'Erlang node on each host asks the running node for erlang:nodes() (connections, partitions, cookie and name mismatches); --no-cluster skips it.'
  static override examples = ['<%= config.bin %> doctor -i inventory/fleet.yaml', '<%= config.bin %> doctor -i inventory/fleet.yaml --json']

  static exitCodes = doctorExitCodes

  static override flags = {
    cluster: Flags.boolean({description: 'ask every node whom it is connected to, through a hidden Erlang node on its host (--no-cluster skips it)', default: true, allowNo: true}),
  }

  async run(): Promise<DoctorReport> {
    const {flags} = await this.parse(Doctor)
    const inventory = requireInventory(flags.inventory)
    const json = this.jsonEnabled()
    // Progress only on a terminal (a board), never in pipes or --json: doctor's output is the matrix.
    const progress = process.stderr.isTTY && !json ? listrProgress(process.stderr, ['Probing every host and, through the tunnel, its peers']) : stderrProgress(false)
    const report = await runDoctor(
      {inventoryFile: inventory, stateDir: flags.state, concurrency: flags.concurrency, cluster: flags.cluster},
      (inv) => sshConnector(inventory, inv, {acceptNew: flags['accept-new'], commandTimeoutMs: commandTimeouts(flags['command-timeout']).probe}),
      progress,
    ).finally(() => progress.settle())
    const color = !json && Boolean(process.stdout.isTTY)
    this.log(renderMatrix(report, {color}))
    this.log(`\n${renderFindings(report, {color})}`)
    if (report.cluster) this.log(`\n${renderCluster(report.cluster, {color})}`)
    for (const n of report.notes ?? []) this.log(`note: ${n}`)
    if (!report.healthy) process.exitCode = 1
    return report
  }
}
