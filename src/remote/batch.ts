// One round trip for all of a host's changes: every file write and removal, the activations, the interface
// step (wg-quick up, syncconf or down/up) and the check of the running peers, in one remote shell. Each step
// is the same as the single-command form (syncconf is the checked strip), run in order until one fails. The host
// prints a marker before each step, so after a failure (or a lost connection) the CLI knows which steps may have
// run and restores those.
// File contents travel on stdin, one after the other: the host keeps them in a private temp file, checks their
// sha256 as a whole before the first step (a connection cut midway installs nothing), and hands each write exactly
// its own bytes (one read of a regular file returns all it asks for; on a pipe it may not).
// A write takes the short path in the batch's own shell when nothing is unusual (no owner, not a symlink or a
// folder, no interrupted in-place write beside it): a temp file beside the target, its bytes, its mode, a rename,
// and the sha256 of what is now on disk. Anything else, or a rename that fails (EBUSY on a bind-mounted
// /etc/hosts), goes to WRITE_SCRIPT, the single-command form, with its owner checks and in-place journal. Every
// program started costs a few milliseconds on a small host: the short path starts two per file (dd and mv; the
// shell itself makes the temp file, with its mode), the whole script a dozen. The sha256 of what the short path
// renamed into place is read once all steps have run, by one sha256sum for all those files, and reported before
// "done": the CLI compares each file's sum only when the whole batch is done, so nothing is judged sooner than before.
import {createHash} from 'node:crypto'

import {holdsHostKeyPlaceholder} from './host-key-script.js'
import {commandLine} from './transport.js'
import {RECOVER_FUNCTIONS} from './write-script.js'

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
 * mkfile FILE MODE (under the batch's umask 077): makes FILE, empty, and fails if anything is there by that name,
 * a dangling symlink too (noclobber opens it O_CREAT|O_EXCL, as mktemp does, with no program started). Modes 600
 * and 644 come from the umask (no chmod); the caller sets any other mode.
 */
export const MKFILE_FUNCTION = `mkfile() { case $2 in 644) umask 022 ;; esac; set -C; { true > "$1"; } 2>/dev/null; r=$?; set +C; umask 077; return $r; }`

/**
 * $1 write script, $2 the keyed write script (network.keys: host: the host puts its own key into the config; empty
 * when no write needs it), $3 syncconf script, $4 interface, $5 the size and $6 the sha256 of all the files' bytes
 * on stdin, then the steps (see encodeBatch).
 */
export const BATCH_SCRIPT = `ws=$1; wk=$2; ss=$3; iface=$4; size=$5; want=$6; shift 6
umask 077
${RECOVER_FUNCTIONS}
t=
all=$(mktemp) || exit 1
# The short path's temp file too: a connection lost between its creation and its rename leaves nothing behind; and
# the .err the whole write script keeps beside it when it is killed while writing in place from it.
trap 'rm -f -- "$all" "$all.err" \${t:+"$t" "$t.err"}' EXIT
trap 'exit 1' HUP INT TERM PIPE
cat > "$all" && exec 3< "$all" || exit 1
if [ "$size" -gt 0 ]; then
  got=$(sha256sum < "$all") || exit 1
  if [ "\${got%% *}" != "$want" ]; then
    [ "$(wc -c < "$all")" -eq "$size" ] || { echo "short write: the connection ended before all of the files arrived; nothing was written" >&2; exit 1; }
    echo "the files arrived damaged (sha256 differs); nothing was written" >&2; exit 1
  fi
fi
${MKFILE_FUNCTION}
# write_whole DST MODE OWNER SIZE SHA: the single-command form, its bytes on stdin; prints the step's wrote line.
write_whole() { out=$(sh -c "$s" mesh "$@") || exit 1; printf '${MARK} wrote %s %s\\n' "$i" "$(echo $out)"; }
i=0; renamed=
while [ $# -gt 0 ]; do
  op=$1; shift
  printf '${MARK} step %s\\n' "$i"
  case $op in
    w|k) s=$ws; [ "$op" = w ] || s=$wk
       # An absolute path below a folder; that folder is made as the whole script makes it (mode 0700; the parents by
       # the umask above). The temp file's name holds this shell's pid and the step, so it is new: if anything is there
       # by that name (left by a killed run), the whole script writes instead. t is set first, so a kill right after
       # mkfile still removes it, and cleared when mkfile failed: what was there is not ours to remove.
       if [ "$op" = w ] && [ -z "$3" ] && [ ! -L "$1" ] && [ ! -d "$1" ] && case $1 in /?*/*) true ;; *) false ;; esac &&
         { [ -d "\${1%/*}" ] || mkdir -p -m 0700 -- "\${1%/*}" 2>/dev/null; } && ! leftovers "$1" &&
         { t="$1.mesh-$$-$i"; mkfile "$t" "$2" || { t=; false; }; }; then
         [ "$4" -eq 0 ] || dd bs="$4" count=1 of="$t" <&3 2>"$all.err" || { echo "writing $1 failed: $(cat "$all.err")" >&2; exit 1; }
         case $2 in 600|644) ;; *) chmod "$2" -- "$t" || exit 1 ;; esac
         # mv's error in English whatever the host's locale: the whole script looks for "busy" in it.
         if LC_ALL=C mv -f -- "$t" "$1" 2>"$all.err"; then
           t=; eval "r$i=\\$1"; renamed="$renamed $i"
         else
           # Rename refused (a bind-mounted file: EBUSY): the whole script writes in place from this temp file (its
           # bytes are checked, its mode set), or reports mv's error (on its stdin); it removes the temp file either way.
           write_whole "$1" "$2" "$3" "$4" "$5" "$t" < "$all.err"; t=
         fi
       elif [ "$4" -eq 0 ]; then write_whole "$1" "$2" "$3" "$4" "$5" < /dev/null
       else dd bs="$4" count=1 <&3 2>/dev/null | write_whole "$1" "$2" "$3" "$4" "$5" || exit 1; fi
       shift 5 ;;
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
# The sums of the files renamed into place, in step order: r<step> holds each one's path (eval sees only the names).
if [ -n "$renamed" ]; then
  files=; for j in $renamed; do files="$files \\"\\$r$j\\""; done
  printf '${MARK} renamed%s\\n' "$renamed"; eval "sha256sum -- $files"; printf '${MARK} end\\n'
fi
printf '${MARK} done\\n'`

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

/**
 * The steps as positional parameters (after the size and sha256 of all the contents) and the file contents as one
 * stdin; want[i] is write i's sha256.
 */
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
  const stdin = Buffer.concat(chunks)
  return {args: [String(stdin.length), sha256(stdin), ...args], stdin, want}
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
    else if (kind === 'renamed') {
      // One line per file, in step order ("<sha256>  <path>"; a leading backslash when sha256sum escaped the path).
      // A file it could not read has no line: then no sum can be told apart, and every one counts as not reported.
      const sums: string[] = []
      while (++i < lines.length && lines[i] !== `${MARK} end`) sums.push(/^\\?([0-9a-f]{64}) {2}/.exec(lines[i])?.[1] ?? '')
      for (const [n, at] of rest.entries()) r.wrote.set(Number(at), {how: 'renamed', sha: sums.length === rest.length ? sums[n] : ''})
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
