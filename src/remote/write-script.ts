// The host side of a file write. A managed file always holds its old bytes or its new bytes, never a mix:
// - normally a temp file beside the target is renamed over it (atomic);
// - a bind-mounted file (EBUSY on rename, as in Docker) can only be written in place. Then the new size is
//   reserved first (fallocate, so ENOSPC comes before any byte changes), the old bytes are copied to a backup
//   beside the file and a journal names the old and new sha256. Until the new bytes are in and checked, the
//   journal stays: whoever touches the file next (a write, the facts of the next apply) puts the backup back
//   when the file is neither old nor new (a kill, a lost connection, a full disk midway).
// Every write ends with the sha256 of what is now on disk (for an in-place write, the one its last check read):
// the CLI compares that with the bytes it meant to write.

/** Shell functions shared by the write and facts scripts. `recover FILE [check]`: see the header. */
export const RECOVER_FUNCTIONS = `sha() { set -- $(sha256sum < "$1"); printf '%s\\n' "\${1:-}"; }
# leftovers FILE: an in-place write's journal, backup or temp file beside FILE (a glob, no process): only then
# is there anything for recover to look at.
leftovers() { for j in "$1".mesh-inplace-*; do [ -e "$j" ] && return 0; done; return 1; }
journal_of() { printf '%s.mesh-inplace-%s' "$1" "$(stat -L -c '%d-%i' -- "$1")"; }
# recover FILE: repairs an interrupted in-place write of FILE. recover FILE check: only says whether one is pending
# (prints "torn" when the file is neither old nor new) and prints nothing else.
recover() {
  [ -f "$1" ] || return 0
  k=$(journal_of "$1")
  if [ ! -e "$k.journal" ]; then [ -n "\${2:-}" ] || rm -f -- "$k.bak"; return 0; fi
  read -r jold jnew jsize < "$k.journal" || { echo "$k.journal is unreadable: check $1 by hand, then remove $k.journal" >&2; return 1; }
  cur=$(sha "$1")
  if [ "$cur" = "$jold" ] || [ "$cur" = "$jnew" ]; then [ -n "\${2:-}" ] || rm -f -- "$k.journal" "$k.bak"; return 0; fi
  if [ -n "\${2:-}" ]; then echo torn; return 0; fi
  [ -f "$k.bak" ] && [ "$(sha "$k.bak")" = "$jold" ] || {
    echo "$1 was left half-written by an interrupted write and its backup $k.bak is missing or damaged: restore $1 by hand, then remove $k.journal" >&2; return 1; }
  # The file is at least as long as the old bytes here (it is truncated only once the new bytes are all in),
  # so putting them back needs no new space.
  dd if="$k.bak" of="$1" bs=65536 conv=notrunc,fsync status=none && truncate -s "$jsize" -- "$1"
  [ "$(sha "$1")" = "$jold" ] || { echo "$1: restoring the bytes from before an interrupted write failed (sha256 differs); $k.bak holds them" >&2; return 1; }
  rm -f -- "$k.journal" "$k.bak"
  echo "$1: restored the bytes from before an interrupted in-place write" >&2
}`

/**
 * $1 target, $2 mode (octal), $3 owner (may be empty), $4 size of the content on stdin, $5 its sha256.
 * $6 (optional, from the batch): a temp file beside the target that already holds the content, checked, in its mode,
 * whose rename onto the target was refused; stdin is then mv's error. No rename is tried again: the write goes in
 * place at once (or fails with that error), and the temp file is removed on any exit.
 * A symlink is written through to its target and stays a link. Prints `renamed|inplace <sha256 now on disk>`.
 * $3: the owner is set on the temp file before the rename (no moment with the content under the wrong owner), and
 * its directory made traversable (a+x); without it the file is root's (best effort, so tests run unprivileged).
 */
export const WRITE_SCRIPT = `set -eu
dst=$1; mode=$2; owner=\${3:-}; size=$4; want=$5; src=\${6:-}
${RECOVER_FUNCTIONS}
fail() { echo "$*" >&2; exit 1; }
# A lost connection (or a killed CLI) closes our pipes: the reply then raises SIGPIPE, which must exit through the
# EXIT trap below (an untrapped signal skips it and leaves the temp files behind).
trap 'exit 1' HUP INT TERM PIPE
if [ -n "$owner" ] && ! id -u -- "$owner" >/dev/null 2>&1; then
  fail "user $owner does not exist on this host (create it, or fix beam.user in the inventory)"
fi
if [ -L "$dst" ]; then
  target=$(readlink -f -- "$dst") && [ -f "$target" ] ||
    fail "$dst is a symlink to $(readlink -- "$dst"), which is not an existing regular file: point the link at a regular file, or replace it with one"
  dst=$target
fi
# mv onto a folder would move the file into it.
[ ! -d "$dst" ] || fail "$dst is a folder, not a file: move it away, then re-run"
dir=\${dst%/*}; [ -n "$dir" ] || dir=/
[ -d "$dir" ] || mkdir -p -m 0700 -- "$dir"
# The owner must reach the file: everyone may traverse (not list) the directory and its parent (mkdir -p
# made that one by umask, e.g. /etc/beam-mesh above /etc/beam-mesh/wg0); the file's mode guards it.
[ -z "$owner" ] || chmod a+x -- "$dir" "$(dirname -- "$dir")"
! leftovers "$dst" || recover "$dst"
k=''
cleanup() { rm -f -- "$tmp" "$tmp.err"; [ -z "$k" ] || [ -e "$k.journal" ] || rm -f -- "$k.bak" "$k.tmp"; }
tmp=\${src:-$(mktemp -- "$dst.mesh-XXXXXX")}
trap cleanup EXIT
why=
if [ -n "$src" ]; then
  IFS= read -r why || true
else
  cat > "$tmp"
  # A lost connection also ends stdin early: never install a truncated file.
  if [ "$(sha "$tmp")" != "$want" ]; then
    [ $(wc -c < "$tmp") -eq "$size" ] || fail "short write: the connection ended before all of $dst arrived"
    fail "the content of $dst arrived damaged (sha256 differs)"
  fi
  chmod "$mode" -- "$tmp"
  # Without an owner the file stays its creator's: root (sudo), or the user itself where tests run unprivileged.
  [ -z "$owner" ] || chown -- "$owner" "$tmp"
  if LC_ALL=C mv -f -- "$tmp" "$dst" 2>"$tmp.err"; then echo "renamed $(sha "$dst")"; exit 0; fi
  IFS= read -r why < "$tmp.err" || true
fi
# Only a busy target (a bind mount) is written in place. mv's error (LC_ALL=C: in English whatever the host's
# locale) is one line, read by the shell (not grep).
case $why in *[Bb][Uu][Ss][Yy]*) ;; *) echo "$why" >&2; exit 1 ;; esac
# In place. One stat: the journal's name (device and inode, as journal_of), the old size and mode.
st=$(stat -L -c '%d-%i %s %a' -- "$dst") || fail "cannot read the size and mode of $dst: nothing was written"
set -- $st; oldsize=$2; oldmode=$3
# First the space: ENOSPC here leaves the file as it was.
if [ "$size" -gt "$oldsize" ] && ! LC_ALL=C fallocate -n -l "$size" -- "$dst" 2>"$tmp.err"; then
  ! grep -qi 'space' "$tmp.err" || fail "no space left on the device of $dst for its $size new bytes: nothing was written (free some space there, then re-run)"
fi
k="$dst.mesh-inplace-$1"
cp -- "$dst" "$k.bak" 2>"$tmp.err" || fail "cannot back up $dst before writing it in place ($(cat "$tmp.err")): nothing was written"
# The old bytes' sha256 and the backup's, from one sha256sum (one line per file; a name with odd characters starts
# its line with a backslash).
sha256sum -- "$dst" "$k.bak" > "$tmp.err" && { read -r old _; read -r bak _; } < "$tmp.err" ||
  fail "cannot read $dst or its backup before writing it in place: nothing was written"
[ "\${bak#\\\\}" = "\${old#\\\\}" ] || fail "the backup of $dst differs from it: nothing was written"
old=\${old#\\\\}
printf '%s %s %s\\n' "$old" "$want" "$oldsize" > "$k.tmp" && mv -f -- "$k.tmp" "$k.journal"
# From here until the journal is gone, an interruption is repaired from the backup.
# dd leaves the file at least the new size; only a shorter file needs truncate.
if ! dd if="$tmp" of="$dst" bs=65536 conv=notrunc,fsync status=none 2>"$tmp.err" ||
  { [ "$size" -lt "$oldsize" ] && ! truncate -s "$size" -- "$dst" 2>>"$tmp.err"; } ||
  [ "$(sha "$dst")" != "$want" ]; then
  why=$(cat "$tmp.err")
  recover "$dst" 2>/dev/null || fail "writing $dst in place failed ($why), and putting its old bytes back failed too: $k.bak holds them"
  fail "writing $dst in place failed ($why): its previous bytes were put back"
fi
# The journal goes first (rm takes its operands in order): from then on the new bytes stand.
rm -f -- "$k.journal" "$k.bak" "$tmp" "$tmp.err"
trap - EXIT
[ "$oldmode" = "$mode" ] || chmod "$mode" -- "$dst"
[ -z "$owner" ] || chown -- "$owner" "$dst"
# The sha256 checked just above, of the bytes now on disk.
echo "inplace $want"`
