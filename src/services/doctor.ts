// `mesh doctor`: probe every host in parallel over SSH, then judge the facts (src/core/doctor.ts).
import {nodeName} from '../core/beam.js'
import {analyzeCluster, withCluster} from '../core/cluster.js'
import {diagnose} from '../core/doctor.js'
import type {DoctorReport} from '../core/doctor-report.js'
import {DoctorHostFacts} from '../core/doctor-facts.js'
import type {ClusterProbeFact} from '../core/cluster-facts.js'
import {Inventory} from '../core/inventory.js'
import {MeshHost} from '../core/model.js'
import {CloseNote, closeAll} from '../remote/pool.js'
import {Transport} from '../remote/transport.js'
import type {Connector} from './connect.js'
import {meshCookiePath, probeCluster} from './doctor-cluster.js'
import {namesToAsk, probeErlNames, probeExposure, probeHost} from './doctor-probe.js'
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
  // The nodes' own answer, through a hidden node on each host with an SSH session (see doctor-cluster.ts).
  const clusterWanted = opts.cluster !== false
  const clusterProbes = new Map<string, ClusterProbeFact>()
  const now = opts.now ?? (() => Date.now() / 1000)
  const names = namesToAsk(mesh)
  try {
    const facts = await mapLimit(mesh.hosts, opts.concurrency ?? DEFAULT_CONCURRENCY, async (host): Promise<DoctorHostFacts> => {
      try {
        progress.step(host.name, 'connecting')
        const t = await connect(host)
        transports.set(host.name, t)
        progress.step(host.name, 'probing peers through the tunnel')
        const f = await probeHost(t, host, {mesh, nodeName: name, now, names}, {erl: !clusterWanted})
        // The cluster view right after, in the same slot (no host waits for the slowest host's probes). Its VM
        // also asks Erlang's resolver for the mesh names; a VM that did not get that far leaves them to one of
        // their own, so the BEAM's view of the names is read either way.
        if (clusterWanted) {
          progress.step(host.name, 'asking the node whom it is connected to')
          const probe = await probeCluster(t, host, {mesh, nodeName: name}, names.erl)
          clusterProbes.set(host.name, probe.fact)
          f.answers = [...(f.answers ?? []), ...(probe.answers ?? (await probeErlNames(t, names.erl)))]
        }
        progress.step(host.name, 'done')
        return f
      } catch (e) {
        progress.step(host.name, `failed: ${(e as Error).message}`)
        return {host: host.name, connected: false, connectError: (e as Error).message}
      }
    })
    // Each host's public side is dialled from another connected host: 4369 and dist ports must not answer.
    await mapLimit(facts, opts.concurrency ?? DEFAULT_CONCURRENCY, async (f, i) => {
      const target = mesh.hosts[i]
      const from = mesh.hosts.find((h) => h.name !== target.name && transports.has(h.name))
      if (!from || !f.connected) return
      const ports = f.localEpmd?.nodes?.map((n) => n.port) ?? []
      if (!mesh.beam.epmd) ports.push(mesh.beam.distPortMin)
      f.exposure = await probeExposure(transports.get(from.name)!, target, [...new Set(ports)])
    })
    report = diagnose(mesh, {nowEpochS: Math.floor(now()), hosts: facts}, {nodeName: name})
    if (clusterWanted) {
      const probes = mesh.hosts.map((h) => clusterProbes.get(h.name)).filter((p): p is ClusterProbeFact => p !== undefined)
      report = withCluster(report, analyzeCluster({mesh, nodeName: name, cookiePath: meshCookiePath(mesh)}, report, probes))
    }
  } finally {
    // Bounded whatever the hosts do: a host that vanished after its probes is a note, never a hang.
    closeNotes = await closeAll([...transports.values()])
  }
  return closeNotes.length ? {...report, notes: closeNotes.map((n) => `${n.name}: ${n.note}`)} : report
}
