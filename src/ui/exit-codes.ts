// What each exit code means, per command, for the EXIT CODES section of `mesh help <command>` (see src/help.ts).
import type {ExitCodes} from '../help.js'

const FIXABLE = 'something you can fix: no or bad inventory, a bad flag, unsafe file modes; the message names the field and the fix, and nothing was changed'

export const initExitCodes: ExitCodes = {
  0: 'keys, state and output are written (or were already up to date)',
  1: 'an external failure (e.g. the disk refused a write)',
  2: `${FIXABLE}; broken /etc/hosts markers in the output`,
}

export const planExitCodes: ExitCodes = {
  0: 'every selected host was reached and the plan is complete',
  1: 'a host could not be reached or its facts could not be read: nothing was planned for it',
  2: `${FIXABLE}; also: a host failed for a reason you fix on it (broken /etc/hosts markers, sudo asking a password)`,
}

export const applyExitCodes: ExitCodes = {
  0: 'every selected host was reached and is in sync (changed now, or already)',
  1: 'a host failed (and was restored), or could not be reached; the other hosts carried on',
  2: `${FIXABLE}; also: confirmation refused or not possible without --yes, or a host failed for a reason you fix on it (broken /etc/hosts markers, sudo asking a password: status failed, the fix in the error)`,
  130: 'interrupted by Ctrl-C: the hosts in flight finished, no new one was started',
}

export const doctorExitCodes: ExitCodes = {
  0: 'every check passed on every host and pair',
  1: 'a check failed or a host could not be reached (see the findings)',
  2: FIXABLE,
}

export const labUpExitCodes: ExitCodes = {
  0: 'the lab is up and every sshd answers',
  1: 'a system command failed (ip, sshd); `mesh lab down` cleans up what was made',
  2: 'something you can fix: not root, a missing Debian package, a bad flag, a lab already there',
}

export const labDownExitCodes: ExitCodes = {
  0: 'the lab is removed (or there was nothing to remove)',
  1: 'a system command failed',
  2: 'something you can fix: a bad flag',
}

export const labStatusExitCodes: ExitCodes = {
  0: 'every shown lab is healthy (or, without --dir/--prefix/--net, no lab is up)',
  1: 'a lab host is not healthy (namespace, sshd or its answer missing)',
  2: 'something you can fix: no lab at the given --dir, --prefix or --net, a bad flag',
}
