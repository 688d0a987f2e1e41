// Remote side of teardown and key rotation, built on RemoteHost (fixed scripts, values as arguments).
import {firewallDeactivate} from '../core/beam-paths.js'
import {TeardownStep} from '../core/teardown.js'
import {RemoteHost} from './hostops.js'

/** Removes the directory only when nothing else (the user's own files) is left in it. */
const RMDIR_SCRIPT = `[ -d "$1" ] || exit 0
rmdir -- "$1" 2>/dev/null || true`

/**
 * One ping per address, in parallel, best effort: traffic makes WireGuard start a handshake right away. The
 * pings are not waited for: the first packet is what counts, and a peer still on its old key would hold the
 * round trip for the whole -W.
 */
const NUDGE_SCRIPT = `for ip in "$@"; do ping -c 1 -W 1 -q "$ip" </dev/null >/dev/null 2>&1 & done
exit 0`

export async function runTeardownStep(remote: RemoteHost, step: TeardownStep): Promise<void> {
  switch (step.kind) {
    case 'down':
      return remote.down()
    case 'disable-unit':
      await remote.run(['systemctl', 'disable', `wg-quick@${remote.iface}`])
      return
    case 'firewall':
      // add + delete in one transaction: also succeeds when the table is not loaded (after a reboot).
      await remote.run(firewallDeactivate(step.table))
      return
    case 'remove':
      return remote.removeFile(step.path)
    case 'hosts':
      await remote.writeFile('/etc/hosts', step.after, 0o644)
  }
}

export async function removeDirIfEmpty(remote: RemoteHost, dir: string): Promise<void> {
  await remote.run(['sh', '-c', RMDIR_SCRIPT, 'mesh', dir])
}

/**
 * After a key rotation: a peer that tried a handshake while only one side had the new key waits
 * REKEY_TIMEOUT (5 s) before it tries again. The host whose key just changed may start one at once
 * (the key change resets its rate limit), so a little traffic from it to every peer ends the outage now.
 */
export async function nudgePeers(remote: RemoteHost, meshIps: string[]): Promise<void> {
  if (meshIps.length) await remote.run(['sh', '-c', NUDGE_SCRIPT, 'mesh', ...meshIps]).catch(() => undefined)
}
