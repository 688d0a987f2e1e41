// One round trip for all of a host's changes: every file write and removal, the activations, the interface
// step (wg-quick up, syncconf or down/up) and the check of the running peers, in one remote shell. Each step
// is the same as the single-command form (a write is WRITE_SCRIPT, with its temp file, sha256 and in-place
// journal; syncconf is the checked strip), run in order until one fails. The host prints a marker before each
// step, so after a failure (or a lost connection) the CLI knows which steps may have run and restores those.
// File contents travel on stdin, one after the other: the host keeps them in a private temp file and hands
// each write exactly its own bytes (one read of a regular file returns all it asks for; on a pipe it may not).
import {createHash} from 'node:crypto'

import {holdsHostKeyPlaceholder} from './host-key-script.js'
import {commandLine} from './transport.js'

export type BatchOp =
  | {kind: 'write'; path: string; content: string; mode: number; owner?: string}
  | {kind: 'remove'; path: string}
  | {kind: 'run'; argv: string[]}
  | {kind: 'up'}
  | {kind: 'restart'}
  | {kind: 'syncconf'; peers: number}
  | {kind: 'verify'}

const MARK = '@@beam-mesh'

/**
 * $1 write script, $2 the keyed write script (network.keys: host: the host puts its own key into the config; empty
 * when no write needs it), $3 syncconf script, $4 interface, then the steps (see encodeBatch).
 */
export const BATCH_SCRIPT = `ws=$1; wk=$2; ss=$3; iface=$4; shift 4
umask 077
all=$(mktemp) || exit 1
trap 'rm -f -- "$all"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cat > "$all" && exec 3< "$all" || exit 1
i=0
while [ $# -gt 0 ]; do
  op=$1; shift
  printf '${MARK} step %s\\n' "$i"
  case $op in
    # One read of exactly the file's size from the regular file on fd 3: each write gets its own bytes, in turn.
    w|k) s=$ws; [ "$op" = w ] || s=$wk
       if [ "$4" -eq 0 ]; then out=$(sh -c "$s" mesh "$1" "$2" "$3" "$4" "$5" < /dev/null) || exit 1
       else out=$(dd bs="$4" count=1 <&3 2>/dev/null | sh -c "$s" mesh "$1" "$2" "$3" "$4" "$5") || exit 1; fi
       printf '${MARK} wrote %s %s\\n' "$i" "$(echo $out)"; shift 5 ;;
    r) { rm -f -- "$1" && ! [ -e "$1" ] && ! [ -L "$1" ]; } || exit 1; shift ;;
    x) eval "$1" || exit 1; shift ;;
    up) wg-quick up "$iface" || exit 1 ;;
    restart) wg-quick down "$iface" || true; wg-quick up "$iface" || exit 1 ;;
    sync) sh -c "$ss" mesh "$iface" "$1" || exit 1; shift ;;
    verify) if p=$(wg show "$iface" peers 2>/dev/null); then printf '${MARK} peers\\n%s\\n${MARK} end\\n' "$p"; else printf '${MARK} down\\n'; fi ;;
    *) echo "unknown step $op" >&2; exit 1 ;;
  esac
  i=$((i + 1))
done
printf '${MARK} done\\n'`

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

/** The steps as positional parameters and the file contents as one stdin; want[i] is write i's sha256. */
export function encodeBatch(ops: BatchOp[]): {args: string[]; stdin: Buffer; want: Map<number, string>} {
  const args: string[] = []
  const chunks: Buffer[] = []
  const want = new Map<number, string>()
  for (const [i, op] of ops.entries()) {
    switch (op.kind) {
      case 'write': {
        const bytes = Buffer.from(op.content, 'latin1')
        want.set(i, sha256(bytes))
        chunks.push(bytes)
        args.push(holdsHostKeyPlaceholder(op.content) ? 'k' : 'w', op.path, op.mode.toString(8), op.owner ?? '', String(bytes.length), want.get(i)!)
        break
      }
      case 'remove':
        args.push('r', op.path)
        break
      case 'run':
        args.push('x', commandLine(op.argv))
        break
      case 'syncconf':
        args.push('sync', String(op.peers))
        break
      default:
        args.push(op.kind)
    }
  }
  return {args, stdin: Buffer.concat(chunks), want}
}

export interface BatchOutcome {
  /** The last step that started (null: none did, or the output was lost). */
  started: number | null
  done: boolean
  /**
   * Per write step: how it was written and the sha256 the host reports for the file now; keyed: the sha256 of the
   * bytes after the host put its key in (network.keys: host), which the file must then have.
   */
  wrote: Map<number, {how: string; sha: string; keyed?: string}>
  /** The running peers seen by the verify step; null when the interface is down; undefined when not reached. */
  peers?: string[] | null
}

export function parseBatch(out: string): BatchOutcome {
  const r: BatchOutcome = {started: null, done: false, wrote: new Map()}
  const lines = out.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (!line.startsWith(`${MARK} `)) continue
    const [kind, ...rest] = line.slice(MARK.length + 1).split(' ')
    if (kind === 'step') r.started = Number(rest[0])
    else if (kind === 'wrote') {
      const [at, ...words] = rest
      const keyed = words[0] === 'keyed' ? words.splice(0, 2)[1] : undefined
      r.wrote.set(Number(at), {how: words[0] ?? '', sha: words[1] ?? '', ...(keyed ? {keyed} : {})})
    }
    else if (kind === 'down') r.peers = null
    else if (kind === 'done') r.done = true
    else if (kind === 'peers') {
      const peers: string[] = []
      while (++i < lines.length && lines[i] !== `${MARK} end`) if (lines[i].trim()) peers.push(lines[i].trim())
      r.peers = peers
    }
  }
  return r
}

/** What a step is, in an error: the same words as the single-command form. */
export function describeOp(op: BatchOp, iface: string): string {
  switch (op.kind) {
    case 'write':
      return `write ${op.path}${op.owner ? ` (owner ${op.owner})` : ''}`
    case 'remove':
      return `remove ${op.path}`
    case 'run':
      return commandLine(op.argv)
    case 'up':
      return `wg-quick up ${iface}`
    case 'restart':
      return `wg-quick down/up ${iface}`
    case 'syncconf':
      return `wg syncconf ${iface} (from a checked wg-quick strip)`
    case 'verify':
      return `wg show ${iface} peers`
  }
}
