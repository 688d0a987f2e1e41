// `mesh doctor`: probe every host in parallel over SSH, then judge the facts (src/core/doctor.ts).
import {nodeName} from '../core/beam.js'
import {analyzeCluster, withCluster} from '../core/cluster.js'
import {diagnose} from '../core/doctor.js'
import type {DoctorReport} from '../core/doctor-report.js'
import {DoctorHostFacts} from '../core/doctor-facts.js'
import {Inventory} from '../core/inventory.js'
import {MeshHost} from '../core/model.js'
import {CloseNote, closeAll} from '../remote/pool.js'
import {Transport} from '../remote/transport.js'
import type {Connector} from './connect.js'
import {meshCookiePath, probeClusterAll} from './doctor-cluster.js'
import {probeExposure, probeHost} from './doctor-probe.js'
import {DEFAULT_CONCURRENCY, mapLimit} from './limit.js'
import {loadMesh} from './mesh.js'

export interface DoctorOptions {
  inventoryFile: string
  stateDir?: string
  concurrency?: number
  /** The controller's clock (epoch seconds): handshake ages are measured against it. */
  now?: () => number
  /** Ask every node whom it is connected to (a hidden Erlang node per host); default true. */
  cluster?: boolean
}

export interface DoctorProgress {
  step(host: string, message: string): void
}

export async function runDoctor(
  opts: DoctorOptions,
  makeConnector: (inventory: Inventory) => Connector,
  progress: DoctorProgress = {step() {}},
): Promise<DoctorReport> {
  // Read-only: doctor never creates keys or state (persist: false).
  const loaded = loadMesh({inventoryFile: opts.inventoryFile, stateDir: opts.stateDir, persist: false})
  const {mesh} = loaded
  const connect = makeConnector(loaded.inventory)
  const name = (h: MeshHost) => nodeName(mesh, h)
  const transports = new Map<string, Transport>()
  let report: DoctorReport
  let closeNotes: CloseNote[] = []
  try {
    const facts = await mapLimit(mesh.hosts, opts.concurrency ?? DEFAULT_CONCURRENCY, async (host): Promise<DoctorHostFacts> => {
      try {
        progress.step(host.name, 'connecting')
        const t = await connect(host)
        transports.set(host.name, t)
        progress.step(host.name, 'probing peers through the tunnel')
        const f = await probeHost(t, host, {mesh, nodeName: name})
        progress.step(host.name, 'done')
        return f
      } catch (e) {
        progress.step(host.name, `failed: ${(e as Error).message}`)
        return {host: host.name, connected: false, connectError: (e as Error).message}
      }
    })
    // The cluster view runs beside the exposure probes: the nodes' own answer, through a hidden node on each host.
    const clusterProbes = opts.cluster === false ? undefined : probeClusterAll({mesh, nodeName: name}, transports, opts.concurrency ?? DEFAULT_CONCURRENCY, progress)
    // Each host's public side is dialled from another connected host: 4369 and dist ports must not answer.
    await mapLimit(facts, opts.concurrency ?? DEFAULT_CONCURRENCY, async (f, i) => {
      const target = mesh.hosts[i]
      const from = mesh.hosts.find((h) => h.name !== target.name && transports.has(h.name))
      if (!from || !f.connected) return
      const ports = f.localEpmd?.nodes?.map((n) => n.port) ?? []
      if (!mesh.beam.epmd) ports.push(mesh.beam.distPortMin)
      f.exposure = await probeExposure(transports.get(from.name)!, target, [...new Set(ports)])
    })
    report = diagnose(mesh, {nowEpochS: Math.floor((opts.now ?? (() => Date.now() / 1000))()), hosts: facts}, {nodeName: name})
    if (clusterProbes) report = withCluster(report, analyzeCluster({mesh, nodeName: name, cookiePath: meshCookiePath(mesh)}, report, await clusterProbes))
  } finally {
    // Bounded whatever the hosts do: a host that vanished after its probes is a note, never a hang.
    closeNotes = await closeAll([...transports.values()])
  }
  return closeNotes.length ? {...report, notes: closeNotes.map((n) => `${n.name}: ${n.note}`)} : report
}
