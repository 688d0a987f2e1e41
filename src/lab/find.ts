// Which lab a `mesh lab` command means: --dir, --prefix and --net select one; none of them means every lab
// on this machine (status) or the default one (down). Labs are found from lab.json in the default directory
// and from the running sshds, whose command line names their lab directory (`-f <dir>/machines/<host>/sshd_config`).
import {existsSync} from 'node:fs'

import {UserError} from '../core/errors.js'
import {DEFAULT_DIR, checkPrefix, labNet, labPaths} from './naming.js'
import {readLabState} from './state.js'
import {cmdlineText, pidsWithCmdline} from './sys.js'

export interface LabSelection {
  dir?: string
  prefix?: string
  net?: number
}

export interface FoundLab {
  dir: string
  prefix: string
  subnet: string
}

/** Every lab with a readable lab.json: the default directory's and those of running lab sshds. */
export function findLabs(): FoundLab[] {
  const dirs = new Set<string>()
  if (existsSync(labPaths(DEFAULT_DIR).stateFile)) dirs.add(labPaths(DEFAULT_DIR).dir)
  for (const pid of pidsWithCmdline('/machines/')) {
    const m = /(\/\S+)\/machines\/[^/\s]+\/sshd_config/.exec(cmdlineText(pid) ?? '')
    if (m) dirs.add(m[1])
  }
  const labs: FoundLab[] = []
  for (const dir of [...dirs].sort()) {
    const state = readLabState(labPaths(dir))
    if (state) labs.push({dir: state.dir, prefix: state.prefix, subnet: state.subnet})
  }
  return labs
}

const matches = (lab: FoundLab, sel: LabSelection) =>
  (sel.prefix === undefined || lab.prefix === sel.prefix) && (sel.net === undefined || lab.subnet === labNet(sel.net).subnet)

/** The one lab the flags select, or null when no flag selects (the caller decides: all labs, or the default). */
export function selectLab(sel: LabSelection): FoundLab | null {
  if (sel.prefix !== undefined) checkPrefix(sel.prefix)
  const what = [sel.dir && `--dir ${sel.dir}`, sel.prefix && `--prefix ${sel.prefix}`, sel.net !== undefined && `--net ${sel.net}`].filter(Boolean).join(' ')
  if (sel.dir !== undefined) {
    const state = readLabState(labPaths(sel.dir))
    if (!state) return null
    const lab = {dir: state.dir, prefix: state.prefix, subnet: state.subnet}
    if (!matches(lab, sel)) throw new UserError(`the lab in ${state.dir} has prefix ${lab.prefix} on ${lab.subnet}, not ${what}`, 'drop the flag that does not match, or pass the lab\'s own --dir')
    return lab
  }
  if (sel.prefix === undefined && sel.net === undefined) return null
  const found = findLabs().filter((l) => matches(l, sel))
  if (found.length > 1) throw new UserError(`${found.length} labs match ${what}: ${found.map((l) => l.dir).join(', ')}`, 'add --dir to choose one')
  return found[0] ?? null
}
