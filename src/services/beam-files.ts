// The per-host files beyond the wg config: BEAM artifacts and the opt-in firewall (src/core/beam.ts).
import {beamExtraFiles} from '../core/beam.js'
import {DesiredFile} from '../core/desired.js'
import {MeshHost} from '../core/model.js'
import {LoadedMesh} from './mesh.js'

export function beamFilesFor(loaded: LoadedMesh): (host: MeshHost) => DesiredFile[] {
  return beamExtraFiles(loaded.mesh, loaded.cookie)
}
