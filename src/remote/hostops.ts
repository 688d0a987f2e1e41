// Operations on one host, built on Transport.run. Every shell snippet here is a fixed string; values
// travel as positional parameters (quoted once, by commandLine) and file contents on stdin.
// File contents are handled as latin1 strings so every byte of /etc/hosts survives unchanged.
// Every command has a time limit by kind (timeouts.ts).
import {createHash} from 'node:crypto'

import {ExternalCommandError} from '../core/errors.js'
import {ApplyHostFacts} from '../core/plan.js'
import {Transport, commandLine} from './transport.js'
import {FACTS_SCRIPT, parseFactsOutput} from './apply-facts.js'
import {CommandTimeoutError, SudoPasswordError, isSudoPasswordFailure} from './result.js'
import type {RunResult} from './transport.js'
import {CommandKind, CommandTimeouts, commandTimeouts} from './timeouts.js'
import {WRITE_SCRIPT} from './write-script.js'
import {HostKeyFacts, splitHostKeyFacts} from '../core/host-keys.js'
import {holdsHostKeyPlaceholder, hostKeyFactsFragment, hostKeyWritePrelude} from './host-key-script.js'
import {BATCH_SCRIPT, BatchOp, BatchOutcome, encodeBatch, parseBatch} from './batch.js'
import {parseLatestHandshakes} from '../core/fresh-tunnels.js'

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

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
shift 2
# Public keys after the count: peers dropped first, so the syncconf adds them back as new peers (see restartHandshakes).
for peer in "$@"; do wg set "$iface" peer "$peer" remove; done
wg syncconf "$iface" "$tmp"`

export type WriteHow = 'renamed' | 'inplace'

export interface BatchRun {
  outcome: BatchOutcome
  /** Per write step: the sha256 of the bytes sent. */
  want: Map<number, string>
  code: number | null
  stderr: string
}

export class RemoteHost {
  constructor(readonly t: Transport, readonly iface: string, readonly timeouts: CommandTimeouts = commandTimeouts()) {}

  private async sh(script: string, args: string[], what: string, kind: CommandKind, stdin?: Buffer): Promise<string> {
    return this.ok(await this.exec(['sh', '-c', script, 'mesh', ...args], kind, what, stdin), what)
  }

  /** An activation step (wg-quick, nft, systemctl): the activate time limit. */
  async run(argv: string[]): Promise<string> {
    return this.ok(await this.exec(argv, 'activate', commandLine(argv)), commandLine(argv))
  }

  /** t.run with the kind's time limit; a timeout names `what` (not a whole script). */
  private async exec(argv: string[], kind: CommandKind, what: string, stdin?: Buffer): Promise<RunResult> {
    try {
      return await this.t.run(argv, {sudo: true, stdin, timeoutMs: this.timeouts[kind]})
    } catch (e) {
      if (e instanceof CommandTimeoutError) throw new CommandTimeoutError(this.t.name, what, e.timeoutMs)
      throw e
    }
  }

  /** stdout, or the error: sudo wanting a password (`sudo -n` fails at once) is named as such, with the fix. */
  private ok(res: RunResult, what: string): string {
    if (res.code === 0) return res.stdout
    if (isSudoPasswordFailure(res)) throw new SudoPasswordError(this.t.name, this.t.user, what)
    throw new ExternalCommandError(this.t.name, what, res.code, res.stderr)
  }

  /**
   * One round trip: managed files, /etc/hosts, running peers, systemd. repair: put back a file an interrupted
   * in-place write left torn (apply); without it such a file is only reported (plan, doctor).
   */
  async facts(paths: string[], opts: {repair?: boolean; hostKey?: {make: boolean; next: boolean}; expected?: ReadonlyMap<string, string>} = {}): Promise<ApplyHostFacts> {
    // expected: the bytes the CLI means each path to hold; a file that holds exactly them is named, not sent back.
    const expected = opts.expected ?? new Map<string, string>()
    const want = paths.map((p) => (expected.has(p) ? sha256(Buffer.from(expected.get(p)!, 'latin1')) : '-')).join(' ')
    const args = [this.iface, opts.repair ? 'repair' : 'check', want, ...paths]
    // network.keys: host: the same round trip makes/reads the host's key and hides it in what comes back.
    const script = opts.hostKey ? hostKeyFactsFragment(this.iface, opts.hostKey) + FACTS_SCRIPT : FACTS_SCRIPT
    const out = await this.sh(script, args, 'gather facts (read managed files, /etc/hosts, wg show)', 'facts')
    if (!opts.hostKey) return parseFactsOutput(out, paths, expected)
    const {keys, rest} = splitHostKeyFacts(out)
    return {...parseFactsOutput(rest, paths, expected), hostKey: keys}
  }

  /** network.keys: host, at the end of a rotation: the host's pending key becomes its key. Returns its public key. */
  async commitHostKey(script: string): Promise<HostKeyFacts> {
    return splitHostKeyFacts(await this.sh(script, [], `commit the new key of ${this.iface} on the host`, 'write')).keys
  }

  /**
   * owner: a user name on the host (it must exist); default root. Resolves only once the host reports the sha256 of
   * what is now on disk and it equals the content's: the file holds exactly these bytes.
   */
  async writeFile(path: string, content: string, mode: number, owner?: string): Promise<WriteHow> {
    const bytes = Buffer.from(content, 'latin1')
    const want = sha256(bytes)
    const what = `write ${path}${owner ? ` (owner ${owner})` : ''}`
    // A config whose PrivateKey the host fills in (network.keys: host): the host checks what arrived against `want`,
    // inserts its key and reports the keyed bytes' sha256, which the file on disk must then have.
    const keyed = holdsHostKeyPlaceholder(content)
    const script = keyed ? hostKeyWritePrelude(this.iface) + WRITE_SCRIPT : WRITE_SCRIPT
    const out = await this.sh(script, [path, mode.toString(8), owner ?? '', String(bytes.length), want], what, 'write', bytes)
    const words = out.trim().split(/\s+/)
    const expect = keyed && words[0] === 'keyed' ? words[1] : want
    const [how, onDisk] = keyed ? words.slice(2) : words
    if ((how !== 'renamed' && how !== 'inplace') || onDisk !== expect) {
      throw new ExternalCommandError(this.t.name, what, 0, `the file on the host does not hold the bytes written (sha256 ${onDisk ?? 'not reported'}, want ${expect})`)
    }
    return how
  }

  /**
   * All steps in one round trip (batch.ts). A step that fails ends the batch and is told by the outcome, not
   * thrown; a lost connection or the time limit throws (then any step may have run).
   */
  async batch(ops: BatchOp[]): Promise<BatchRun> {
    const {args, stdin, want} = encodeBatch(ops)
    const what = 'apply the changes (write files, activate, check peers)'
    // A config whose PrivateKey the host fills in (network.keys: host) is written by the keyed form, as in writeFile.
    const keyed = ops.some((op) => op.kind === 'write' && holdsHostKeyPlaceholder(op.content)) ? hostKeyWritePrelude(this.iface) + WRITE_SCRIPT : ''
    // One remote command: the activation limit (the slowest kind's; --command-timeout sets it like any other).
    const argv = ['sh', '-c', BATCH_SCRIPT, 'mesh', WRITE_SCRIPT, keyed, SYNCCONF_SCRIPT, this.iface, ...args]
    const res = await this.exec(argv, 'activate', what, stdin)
    if (res.code !== 0 && isSudoPasswordFailure(res)) throw new SudoPasswordError(this.t.name, this.t.user, what)
    return {outcome: parseBatch(res.stdout), want, code: res.code, stderr: res.stderr}
  }

  /** Removes the file and checks it is gone. */
  async removeFile(path: string): Promise<void> {
    await this.sh('rm -f -- "$1" && ! [ -e "$1" ] && ! [ -L "$1" ]', [path], `remove ${path}`, 'write')
  }

  async up(): Promise<void> {
    await this.run(['wg-quick', 'up', this.iface])
  }

  async down(): Promise<void> {
    await this.run(['wg-quick', 'down', this.iface])
  }

  async syncconf(expectedPeers: number): Promise<void> {
    await this.sh(SYNCCONF_SCRIPT, [this.iface, String(expectedPeers)], `wg syncconf ${this.iface} (from a checked wg-quick strip)`, 'activate')
  }

  /**
   * Drops these peers and adds them back from the checked strip of the config, as new peers: each starts a
   * handshake at once, with none of the old peer's rate limit (one initiation per 5 s). Only for an interface
   * that has just come up: a running session with these peers would be cut.
   */
  async restartHandshakes(peers: string[], expectedPeers: number): Promise<void> {
    await this.sh(SYNCCONF_SCRIPT, [this.iface, String(expectedPeers), ...peers], `wg syncconf ${this.iface} with ${peers.length} peer(s) added again`, 'activate')
  }

  /** Peer public key -> unix time of its latest handshake (0: none); null when the interface is down or the answer is not that. */
  async latestHandshakes(): Promise<Map<string, number> | null> {
    const res = await this.exec(['wg', 'show', this.iface, 'latest-handshakes'], 'facts', `wg show ${this.iface} latest-handshakes`)
    return res.code === 0 ? parseLatestHandshakes(res.stdout) : null
  }

  async enableUnit(): Promise<void> {
    await this.run(['systemctl', 'enable', `wg-quick@${this.iface}`])
  }

  /** Of these files (present on the host), those whose activation check (isActive) fails: e.g. a firewall table lost on reboot. */
  async inactive(files: {path: string; isActive?: string[]}[]): Promise<Set<string>> {
    const out = new Set<string>()
    for (const f of files) {
      if (f.isActive && (await this.exec(f.isActive, 'facts', commandLine(f.isActive))).code !== 0) out.add(f.path)
    }
    return out
  }

  /** Public keys of the running interface's peers, or null when the interface is down. */
  async runningPeers(): Promise<string[] | null> {
    const res = await this.exec(['wg', 'show', this.iface, 'peers'], 'facts', `wg show ${this.iface} peers`)
    if (res.code !== 0) return null
    return res.stdout.split('\n').filter(Boolean)
  }
}
