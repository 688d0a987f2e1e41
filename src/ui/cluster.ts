// The cluster view of `mesh doctor` as text: who is connected to whom in the nodes' own terms
// (rows = the node asked, columns = the node it should list), the parts when it is split, then the findings.
import type {ClusterReport} from '../core/doctor-report.js'
import {MatrixOptions, renderFindings, renderMatrix} from './matrix.js'

export function renderCluster(cluster: ClusterReport, opts: MatrixOptions): string {
  const out: string[] = ['Cluster (erlang:nodes() of each node, asked by a hidden node on its host):', '']
  out.push(renderMatrix(cluster, opts).replace(/\[\.\.\] = the host itself/, '[..] = could the node be asked'))
  const whole = cluster.components.length === 1 && cluster.components[0].length === cluster.hosts.length
  if (cluster.components.length > 1) out.push(`Parts: ${cluster.components.map((c) => `[${c.join(', ')}]`).join(' | ')}`, '')
  if (cluster.findings.length === 0) out.push(whole ? 'Every node is connected to every other node.' : 'No cluster findings.')
  else out.push(renderFindings(cluster, opts).trimEnd())
  return `${out.join('\n')}\n`
}
