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
