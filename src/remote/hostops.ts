// Operations on one host, built on Transport.run. Every shell snippet here is a fixed string; values
// travel as positional parameters (quoted once, by commandLine) and file contents on stdin.
// File contents are handled as latin1 strings so every byte of /etc/hosts survives unchanged.
import {ExternalCommandError} from '../core/errors.js'
import {HostFacts} from '../core/plan.js'
import {Transport, commandLine} from './transport.js'
import {FACTS_SCRIPT, parseFactsOutput} from './facts.js'

/** temp file beside the target + rename; EBUSY (bind-mounted file, as in Docker) -> in-place write. */
const WRITE_SCRIPT = `set -eu
dst=$1; mode=$2
dir=$(dirname -- "$dst")
[ -d "$dir" ] || mkdir -p -m 0700 -- "$dir"
tmp=$(mktemp -- "$dst.mesh-XXXXXX")
trap 'rm -f -- "$tmp" "$tmp.err"' EXIT
cat > "$tmp"
chmod "$mode" -- "$tmp"
chown 0:0 -- "$tmp" 2>/dev/null || true
if mv -f -- "$tmp" "$dst" 2>"$tmp.err"; then echo renamed; exit 0; fi
if grep -qi busy "$tmp.err"; then cat -- "$tmp" > "$dst"; chmod "$mode" -- "$dst"; echo inplace; exit 0; fi
cat "$tmp.err" >&2; exit 1`

/** Strip to a checked file, never the unchecked <(wg-quick strip) form that wipes all peers on failure. */
const SYNCCONF_SCRIPT = `set -eu
iface=$1; peers=$2
umask 077
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
    const res = await this.t.run(argv, {sudo: true, stdin})
    if (res.code !== 0) throw new ExternalCommandError(this.t.name, what, res.code, res.stderr)
    return res.stdout
  }

  async run(argv: string[]): Promise<string> {
    const res = await this.t.run(argv, {sudo: true})
    if (res.code !== 0) throw new ExternalCommandError(this.t.name, commandLine(argv), res.code, res.stderr)
    return res.stdout
  }

  /** One round trip: managed files, /etc/hosts, running peers, systemd. */
  async facts(paths: string[]): Promise<HostFacts> {
    const out = await this.sh(FACTS_SCRIPT, [this.iface, ...paths], 'gather facts (read managed files, /etc/hosts, wg show)')
    return parseFactsOutput(out, paths)
  }

  async writeFile(path: string, content: string, mode: number): Promise<WriteHow> {
    const out = await this.sh(WRITE_SCRIPT, [path, mode.toString(8)], `write ${path}`, Buffer.from(content, 'latin1'))
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

  /** Public keys of the running interface's peers, or null when the interface is down. */
  async runningPeers(): Promise<string[] | null> {
    const res = await this.t.run(['wg', 'show', this.iface, 'peers'], {sudo: true})
    if (res.code !== 0) return null
    return res.stdout.split('\n').filter(Boolean)
  }
}
