// Operations on one host, built on Transport.run. Every shell snippet here is a fixed string; values
// travel as positional parameters (quoted once, by commandLine) and file contents on stdin.
// File contents are handled as latin1 strings so every byte of /etc/hosts survives unchanged.
import {ExternalCommandError} from '../core/errors.js'
import {HostFacts} from '../core/plan.js'
import {Transport, commandLine} from './transport.js'
import {FACTS_SCRIPT, parseFactsOutput} from './facts.js'
import {SudoPasswordError, isSudoPasswordFailure} from './result.js'
import type {RunResult} from './transport.js'

/**
 * temp file beside the target + rename; EBUSY (bind-mounted file, as in Docker) -> in-place write.
 * $4: the number of bytes coming on stdin (fewer arrive when the connection drops: then nothing is installed).
 * $3 (may be empty): the owning user, set on the temp file before the rename (no moment with the content
 * under the wrong owner), and its directory is made traversable (a+x) so that user can reach it;
 * without it the file is root's (best effort, so tests run unprivileged).
 */
const WRITE_SCRIPT = `set -eu
dst=$1; mode=$2; owner=\${3:-}; size=$4
# A lost connection (or a killed CLI) closes our pipes: the reply then raises SIGPIPE, which must exit through the
# EXIT trap below (an untrapped signal skips it and leaves the temp files behind).
trap 'exit 1' HUP INT TERM PIPE
if [ -n "$owner" ] && ! id -u -- "$owner" >/dev/null 2>&1; then
  echo "user $owner does not exist on this host (create it, or fix beam.user in the inventory)" >&2; exit 1
fi
dir=$(dirname -- "$dst")
[ -d "$dir" ] || mkdir -p -m 0700 -- "$dir"
# The owner must reach the file: everyone may traverse (not list) the directory and its parent (mkdir -p
# made that one by umask, e.g. /etc/beam-mesh above /etc/beam-mesh/wg0); the file's mode guards it.
[ -z "$owner" ] || chmod a+x -- "$dir" "$(dirname -- "$dir")"
tmp=$(mktemp -- "$dst.mesh-XXXXXX")
trap 'rm -f -- "$tmp" "$tmp.err"' EXIT
cat > "$tmp"
# A lost connection also ends stdin early: never install a truncated file.
[ $(wc -c < "$tmp") -eq "$size" ] || { echo "short write: the connection ended before all of $dst arrived" >&2; exit 1; }
chmod "$mode" -- "$tmp"
if [ -n "$owner" ]; then chown -- "$owner" "$tmp"; else chown 0:0 -- "$tmp" 2>/dev/null || true; fi
if mv -f -- "$tmp" "$dst" 2>"$tmp.err"; then echo renamed; exit 0; fi
if grep -qi busy "$tmp.err"; then
  cat -- "$tmp" > "$dst"; chmod "$mode" -- "$dst"; [ -z "$owner" ] || chown -- "$owner" "$dst"; echo inplace; exit 0
fi
cat "$tmp.err" >&2; exit 1`

/** Strip to a checked file, never the unchecked <(wg-quick strip) form that wipes all peers on failure. */
const SYNCCONF_SCRIPT = `set -eu
iface=$1; peers=$2
umask 077
trap 'exit 1' HUP INT TERM PIPE
tmp=$(mktemp /etc/wireguard/.mesh-strip-XXXXXX)
trap 'rm -f -- "$tmp"' EXIT
wg-quick strip "$iface" > "$tmp"
[ -s "$tmp" ] || { echo "wg-quick strip $iface produced nothing" >&2; exit 1; }
grep -q '^PrivateKey' "$tmp" || { echo "stripped config has no PrivateKey" >&2; exit 1; }
n=$(grep -c '^\\[Peer\\]' "$tmp" || true)
[ "$n" = "$peers" ] || { echo "stripped config has $n peers, expected $peers" >&2; exit 1; }
wg syncconf "$iface" "$tmp"`

export type WriteHow = 'renamed' | 'inplace'

export class RemoteHost {
  constructor(readonly t: Transport, readonly iface: string) {}

  private async sh(script: string, args: string[], what: string, stdin?: Buffer): Promise<string> {
    const argv = ['sh', '-c', script, 'mesh', ...args]
    return this.ok(await this.t.run(argv, {sudo: true, stdin}), what)
  }

  async run(argv: string[]): Promise<string> {
    return this.ok(await this.t.run(argv, {sudo: true}), commandLine(argv))
  }

  /** stdout, or the error: sudo wanting a password (`sudo -n` fails at once) is named as such, with the fix. */
  private ok(res: RunResult, what: string): string {
    if (res.code === 0) return res.stdout
    if (isSudoPasswordFailure(res)) throw new SudoPasswordError(this.t.name, this.t.user, what)
    throw new ExternalCommandError(this.t.name, what, res.code, res.stderr)
  }

  /** One round trip: managed files, /etc/hosts, running peers, systemd. */
  async facts(paths: string[]): Promise<HostFacts> {
    const out = await this.sh(FACTS_SCRIPT, [this.iface, ...paths], 'gather facts (read managed files, /etc/hosts, wg show)')
    return parseFactsOutput(out, paths)
  }

  /** owner: a user name on the host (it must exist); default root. */
  async writeFile(path: string, content: string, mode: number, owner?: string): Promise<WriteHow> {
    const args = [path, mode.toString(8), owner ?? '', String(Buffer.byteLength(content, 'latin1'))]
    const out = await this.sh(WRITE_SCRIPT, args, `write ${path}${owner ? ` (owner ${owner})` : ''}`, Buffer.from(content, 'latin1'))
    return out.trim() === 'inplace' ? 'inplace' : 'renamed'
  }

  async removeFile(path: string): Promise<void> {
    await this.run(['rm', '-f', '--', path])
  }

  async up(): Promise<void> {
    await this.run(['wg-quick', 'up', this.iface])
  }

  async down(): Promise<void> {
    await this.run(['wg-quick', 'down', this.iface])
  }

  async syncconf(expectedPeers: number): Promise<void> {
    await this.sh(SYNCCONF_SCRIPT, [this.iface, String(expectedPeers)], `wg syncconf ${this.iface} (from a checked wg-quick strip)`)
  }

  async enableUnit(): Promise<void> {
    await this.run(['systemctl', 'enable', `wg-quick@${this.iface}`])
  }

  /** Of these files (present on the host), those whose activation check (isActive) fails: e.g. a firewall table lost on reboot. */
  async inactive(files: {path: string; isActive?: string[]}[]): Promise<Set<string>> {
    const out = new Set<string>()
    for (const f of files) {
      if (f.isActive && (await this.t.run(f.isActive, {sudo: true})).code !== 0) out.add(f.path)
    }
    return out
  }

  /** Public keys of the running interface's peers, or null when the interface is down. */
  async runningPeers(): Promise<string[] | null> {
    const res = await this.t.run(['wg', 'show', this.iface, 'peers'], {sudo: true})
    if (res.code !== 0) return null
    return res.stdout.split('\n').filter(Boolean)
  }
}
