// The /etc/hosts a host should have: earlier neutralizations undone, our block spliced in, then every line
// that still shadows a mesh name neutralized. Starting from the restored file each time makes the result
// depend on the original lines only: a re-run changes nothing, and a line whose name left the mesh (or
// whose address now agrees with the block) comes back by itself. Pure.
import {removeBlock, spliceBlock} from './hostsfile.js'
import {MeshNames, ShadowLine, neutralizeShadows, restoreShadows} from './hosts-shadow.js'
import {hostsMarkers} from './render.js'

export interface HostsLineChanges {
  /** Lines this run neutralizes (line numbers in the file as written). */
  neutralized: ShadowLine[]
  /** Original lines this run puts back, as they will read. */
  restored: string[]
}

export interface HostsFilePlan extends HostsLineChanges {
  after: string
}

/** Multiset difference: items of `a` not matched one-for-one in `b`. */
function minus<T>(a: T[], b: string[], key: (x: T) => string): T[] {
  const left = [...b]
  return a.filter((x) => {
    const i = left.indexOf(key(x))
    if (i < 0) return true
    left.splice(i, 1)
    return false
  })
}

export function planHostsFile(before: string, block: string, names: MeshNames | undefined, iface: string, where: string): HostsFilePlan {
  const {begin, end} = hostsMarkers(iface)
  const pristine = restoreShadows(before, iface)
  const spliced = spliceBlock(pristine.content, block, begin, end, where)
  const {content, lines} = names ? neutralizeShadows(spliced, names, iface) : {content: spliced, lines: []}
  // Compared by original text: a line neutralized before and now is no news.
  return {
    after: content,
    neutralized: minus(lines, pristine.restored, (l) => l.text),
    restored: minus(pristine.restored, lines.map((l) => l.text), (x) => x),
  }
}

/** Teardown: our block out, every line we neutralized back as it was. */
export function teardownHostsFile(before: string, iface: string, where: string): {after: string; restored: string[]} {
  const {begin, end} = hostsMarkers(iface)
  const {content, restored} = restoreShadows(removeBlock(before, begin, end, where), iface)
  return {after: content, restored}
}
