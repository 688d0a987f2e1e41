// Every remote command has a time limit, by kind: a hung `wg-quick` or `systemctl` on one host must not stall
// the run. On a timeout the channel is closed (and the process signalled); apply then restores that host.
export type CommandKind = 'facts' | 'write' | 'activate' | 'teardown' | 'probe'

export type CommandTimeouts = Record<CommandKind, number>

/**
 * Seconds: generous, since a busy host is slow and a stopped command costs a rollback; the point is that nothing
 * waits forever. Activation (wg-quick up under wireguard-go, nft, systemctl) is the slowest kind.
 */
export const DEFAULT_TIMEOUT_SECONDS: CommandTimeouts = {facts: 120, write: 120, activate: 300, teardown: 300, probe: 300}

/** The limits in ms; `seconds` (the --command-timeout flag) replaces every default. */
export function commandTimeouts(seconds?: number): CommandTimeouts {
  const pick = (k: CommandKind) => (seconds ?? DEFAULT_TIMEOUT_SECONDS[k]) * 1000
  return {facts: pick('facts'), write: pick('write'), activate: pick('activate'), teardown: pick('teardown'), probe: pick('probe')}
}

/** A teardown's steps (wg-quick down, rm, nft delete) get the teardown limit. */
export const forTeardown = (t: CommandTimeouts): CommandTimeouts => ({...t, activate: t.teardown, write: t.teardown})

/** A timer from ioTimeout: clear() cancels it, also once it has fired and waits for the I/O already there. */
export interface IoTimer {
  clear(): void
}

/**
 * A short timeout on a reply (a probe's few seconds, a connection's close) whose verdict comes only after the I/O
 * already waiting has been read. A timer that fires late (the process had no CPU for a while: a small controller
 * checking dozens of hosts at once) runs in the event loop's timers phase, before the poll phase reads the replies
 * that arrived meanwhile, so a reply that came in time would be called a timeout. The verdict waits two turns of the
 * loop (setImmediate runs after a poll): the first poll may read a reply's bytes and stop there, and its end (EOF) is
 * only read by the next.
 * `unref`: the timer alone does not keep the process alive.
 */
export function ioTimeout(ms: number, onTimeout: () => void, {unref = false}: {unref?: boolean} = {}): IoTimer {
  let immediate: NodeJS.Immediate | undefined
  const later = (fn: () => void) => {
    immediate = setImmediate(fn)
    if (unref) immediate.unref()
  }
  const timer = setTimeout(() => later(() => later(onTimeout)), ms)
  if (unref) timer.unref()
  return {
    clear() {
      clearTimeout(timer)
      if (immediate) clearImmediate(immediate)
    },
  }
}
