// The first lines of a plan's or an apply's summary when hosts were not planned: they must not read as "in sync".
// A host never reached (no connection) and a host reached whose facts failed (broken markers, sudo) are said
// apart: calling the second "unreachable" sends the operator to the network instead of to the host's files.
import type {HostSession} from '../services/apply-types.js'

/**
 * "2 of 3 hosts unreachable: nothing was planned for them (Host-B, Host-C)" and/or "1 of 3 hosts failed before
 * planning: nothing was planned for it (Host-A)", or null when every host was reached and planned.
 */
export function unreachedLine(sessions: HostSession[], done: 'planned' | 'applied'): string | null {
  const n = sessions.length
  const line = (missed: HostSession[], what: string) =>
    `${missed.length} of ${n} host${n === 1 ? '' : 's'} ${what}: nothing was ${done} for ${missed.length === 1 ? 'it' : 'them'} (${missed.map((s) => s.host.name).join(', ')})`
  const unreached = sessions.filter((s) => !s.plan && !s.remote)
  const failed = sessions.filter((s) => !s.plan && s.remote)
  const lines = [unreached.length ? line(unreached, 'unreachable') : '', failed.length ? line(failed, 'failed before planning') : ''].filter(Boolean)
  return lines.length ? lines.join('\n') : null
}
