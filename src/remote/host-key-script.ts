// The host side of network.keys: host. Small shell fragments that compose with the facts and write scripts:
// the private key is made by the host (`wg genkey`, umask 077, root-only file beside the config), read only by
// the host, and never printed: what comes back is its public key, and configs are read back with the key
// replaced by a placeholder. Key values travel in environment variables of the host's own processes (never argv).
import {HOST_KEY, HOST_KEY_NEXT, NOT_HOST_KEY, hostKeyFile} from '../core/host-keys.js'

const MARK = '@@beam-mesh hostkey'

/** awk program: PrivateKey lines become the placeholder of the key file they match ($K current, $N pending). */
const REDACT_AWK = `/^[ \\t]*PrivateKey[ \\t]*=/ { v = $0; sub(/^[^=]*=[ \\t]*/, "", v); sub(/[ \\t\\r]*$/, "", v)
  if (v != "" && v == ENVIRON["K"]) print "PrivateKey = ${HOST_KEY}"; else if (v != "" && v == ENVIRON["N"]) print "PrivateKey = ${HOST_KEY_NEXT}"
  else print "PrivateKey = ${NOT_HOST_KEY}"; next }
{ print }`

/** awk program: the placeholders become the keys (the write side). */
const INSERT_AWK = `$0 == "PrivateKey = ${HOST_KEY}" { print "PrivateKey = " ENVIRON["K"]; next }
$0 == "PrivateKey = ${HOST_KEY_NEXT}" { print "PrivateKey = " ENVIRON["N"]; next }
{ print }`

/** Shell that sets $K and $N to the key files' content (empty when absent). */
const READ_KEYS = (file: string) => `K=$(cat -- '${file}' 2>/dev/null || true); N=$(cat -- '${file}.next' 2>/dev/null || true)`

/**
 * Prepended to the facts script. make: create <if>.key when missing; next: create <if>.key.next (a rotation's
 * pending key) when <if>.key exists and no pending key does. Prints the public keys, and defines show_file,
 * which the facts script uses to read managed files (base64): PrivateKey values come back as placeholders.
 * The interface name is checked by the inventory schema (letters, digits, -_.=+), so it is safe in quotes.
 */
export function hostKeyFactsFragment(iface: string, o: {make: boolean; next: boolean}): string {
  const f = hostKeyFile(iface)
  const gen = (target: string) => `t=$(mktemp -- '${target}.mesh-XXXXXX') && wg genkey > "$t" && chmod 600 -- "$t" && mv -f -- "$t" '${target}'`
  return `hostkeys() (
  umask 077
  ${o.make ? '[ -d /etc/wireguard ] || mkdir -p -m 0700 /etc/wireguard' : ': a preview makes nothing'}
  ${o.make ? `if [ ! -s '${f}' ]; then ${gen(f)} && echo '${MARK} made' || { echo 'cannot make ${f}' >&2; exit 1; }; fi` : ':'}
  ${o.next ? `if [ -s '${f}' ] && [ ! -s '${f}.next' ]; then ${gen(`${f}.next`)} || { echo 'cannot make ${f}.next' >&2; exit 1; }; fi` : ':'}
  if [ -s '${f}' ]; then printf '${MARK} current %s\\n' "$(wg pubkey < '${f}' 2>/dev/null || echo invalid)"; fi
  if [ -s '${f}.next' ]; then printf '${MARK} next %s\\n' "$(wg pubkey < '${f}.next' 2>/dev/null || echo invalid)"; fi
)
hostkeys || exit 1
show_file() { [ -f "$1" ] && [ -r "$1" ] || return 1; ${READ_KEYS(f)}; K="$K" N="$N" awk '${REDACT_AWK}' "$1" | base64; }
`
}

/**
 * Prepended to the write script for a config holding a placeholder: reads the content (checked against $4 size
 * and $5 sha256 as sent), puts the host's key in place of the placeholder, and hands the result to the write
 * script as its stdin with the size and sha256 of the keyed bytes. Prints `keyed <sha256>` first: the write
 * script's final sha256 must equal it. Refuses when a placeholder has no key file behind it, so no config
 * without its PrivateKey ever reaches `wg syncconf` (which would clear the interface's key).
 */
export function hostKeyWritePrelude(iface: string): string {
  const f = hostKeyFile(iface)
  return `set -eu
umask 077
hk_in=$(mktemp -- '${f}.in-XXXXXX'); hk_out=$(mktemp -- '${f}.out-XXXXXX')
trap 'rm -f -- "$hk_in" "$hk_out"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cat > "$hk_in"
[ "$(wc -c < "$hk_in")" -eq "$4" ] || { echo "short write: the connection ended before all of $1 arrived" >&2; exit 1; }
[ "$(sha256sum < "$hk_in" | cut -c1-64)" = "$5" ] || { echo "the content of $1 arrived damaged (sha256 differs)" >&2; exit 1; }
${READ_KEYS(f)}
if grep -qx 'PrivateKey = ${HOST_KEY}' "$hk_in" && [ -z "$K" ]; then echo "${f} is missing on the host: run mesh apply (it makes a new key there)" >&2; exit 1; fi
if grep -qx 'PrivateKey = ${HOST_KEY_NEXT}' "$hk_in" && [ -z "$N" ]; then echo "${f}.next is missing on the host: run mesh apply to finish the rotation" >&2; exit 1; fi
if grep -qx 'PrivateKey = ${NOT_HOST_KEY}' "$hk_in"; then echo "$1 would get a private key that is in neither key file of this host" >&2; exit 1; fi
K="$K" N="$N" awk '${INSERT_AWK}' "$hk_in" > "$hk_out"
set -- "$1" "$2" "$3" "$(wc -c < "$hk_out")" "$(sha256sum < "$hk_out" | cut -c1-64)"
echo "keyed $5"
exec < "$hk_out"
rm -f -- "$hk_in" "$hk_out"
trap - EXIT
`
}

/** Renames a rotation's pending key over the current one (atomic), once every host runs it. */
export function hostKeyCommitScript(iface: string): string {
  const f = hostKeyFile(iface)
  return `set -eu
if [ -s '${f}.next' ]; then mv -f -- '${f}.next' '${f}'; fi
printf '${MARK} current %s\\n' "$(wg pubkey < '${f}')"`
}

/** Whether a config we are about to write needs the host to insert its key. */
export const holdsHostKeyPlaceholder = (content: string) => content.includes(`PrivateKey = ${HOST_KEY}`) || content.includes(`PrivateKey = ${HOST_KEY_NEXT}`) || content.includes(`PrivateKey = ${NOT_HOST_KEY}`)
