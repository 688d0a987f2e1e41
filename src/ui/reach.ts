// The first line of a plan's or an apply's summary when hosts were not reached: it must not read as "in sync".
import type {HostSession} from '../services/apply.js'

/** "2 of 3 hosts unreachable: nothing was planned for them (Host-B, Host-C)", or null when every host was reached. */
export function unreachedLine(sessions: HostSession[], done: 'planned' | 'applied'): string | null {
  const missed = sessions.filter((s) => !s.plan)
  if (!missed.length) return null
  const n = sessions.length
  return `${missed.length} of ${n} host${n === 1 ? '' : 's'} unreachable: nothing was ${done} for ${missed.length === 1 ? 'it' : 'them'} (${missed.map((s) => s.host.name).join(', ')})`
}
