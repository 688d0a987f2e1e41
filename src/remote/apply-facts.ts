// Apply's facts: the facts script (one round trip per host) and its pure parser. File contents come back base64
// encoded so that any byte, including invalid UTF-8 in a user's /etc/hosts, survives the trip; owner
// and mode of each file come from stat, so a changed owner (beam.user) is planned as a change.
import {FileMeta, ApplyHostFacts, RunningPeer} from '../core/plan.js'
import {RECOVER_FUNCTIONS} from './write-script.js'

const MARK = '@@beam-mesh'

/**
 * $1 interface, $2 \`repair\` or \`check\`, $3 the sha256 the CLI expects of each path, in the order of the paths and
 * separated by spaces (\`-\` for none), then the managed paths. A file left half-written by an interrupted in-place
 * write (see write-script.ts) is put back from its backup first (repair), or reported as \`torn\` and read from its
 * backup (check: a preview changes nothing); either way the plan is made from the bytes it will start from.
 * A symlink is reported with its target: writes go through it.
 * A plain file (no link, nothing torn) whose sha256 is the one expected is only named (\`same\`): its bytes are
 * known. One sha256sum for them all instead of a base64 of each: on a re-run that changes nothing that is most
 * of the programs the facts start on every host.
 */
export const FACTS_SCRIPT = `iface=$1; mode=$2; want=$3; shift 3
${RECOVER_FUNCTIONS}
# How a managed file is read: a prepended fragment may define it (network.keys: host hides the private key).
type show_file >/dev/null 2>&1 || show_file() { base64 < "$1"; }
# Sets src (what to read for $1) and reports a link or a torn file, before the file's own block.
# plain: set when the file is itself (no link) and no interrupted write touched it (only then can its sum stand).
locate() {
  r=$1; plain=1
  if [ -L "$1" ]; then plain=; r=$(readlink -f -- "$1") || exit 1; printf '${MARK} link %s %s\\n' "$r" "$1"; fi
  src=$r
  leftovers "$r" || return 0
  plain=
  if [ "$mode" = repair ]; then recover "$r" || exit 1
  elif [ "$(recover "$r" check)" = torn ]; then printf '${MARK} torn %s\\n' "$1"; src="$(journal_of "$r").bak"; fi
}
nl='
'
# Programs start only for files that are there (a fresh host has none: no sha256sum, no stat).
there=0
for f in "$@"; do [ ! -e "$f" ] || there=$((there + 1)); done
sums=
[ "$there" -eq 0 ] || case " $want " in *' '[0-9a-f]*) sums=$(sha256sum -- "$@" 2>/dev/null) ;; esac
for f in "$@"; do
  w=\${want%% *}; want=\${want#* }
  [ -e "$f" ] || continue
  locate "$f"
  case "$nl$sums$nl" in
    *"$nl$w  $f$nl"*) if [ -n "$plain" ]; then printf '${MARK} same %s\\n' "$f"; continue; fi ;;
  esac
  printf '${MARK} file %s\\n' "$f"; show_file "$src" || exit 1; printf '${MARK} end\\n'
done
# Owner and mode of every file there, in one process (the missing ones only complain on stderr).
[ "$there" -eq 0 ] || stat -L -c '${MARK} meta %U %a %n' -- "$@" 2>/dev/null
src=/dev/null; [ ! -e /etc/hosts ] || locate /etc/hosts
printf '${MARK} hosts\\n'; base64 < "$src" || exit 1; printf '${MARK} end\\n'
# The running interface in one wg call: its dump, of which awk prints only public fields (the first line's private
# key and each peer's preshared key never leave wg and awk), in the allowed-ips and persistent-keepalive forms.
# No output (the interface is down): no section. Where /sys shows no such interface, neither program starts.
[ -d /sys/class/net ] && [ ! -e "/sys/class/net/$iface" ] || wg show "$iface" dump 2>/dev/null | awk -F '\\t' -v m='${MARK}' '
  NR == 1 { port = $3; next }
  { ips = $4; gsub(/,/, " ", ips); wg = wg $1 "\\t" ips "\\n"; ka = ka $1 "\\t" $8 "\\n" }
  END { if (NR) printf "%s wg\\n%s%s end\\n%s keepalive\\n%s%s end\\n%s port %s\\n", m, wg, m, m, ka, m, m, port }'

if [ -d /run/systemd/system ]; then printf '${MARK} systemd %s\\n' "$(systemctl is-enabled "wg-quick@$iface" 2>/dev/null || true)"; fi
exit 0`

const decode = (lines: string[]) => Buffer.from(lines.join(''), 'base64').toString('latin1')

/** expected: the bytes whose sha256 the script was given, by path (a \`same\` file holds exactly them). */
export function parseFactsOutput(out: string, paths: string[], expected: ReadonlyMap<string, string> = new Map()): ApplyHostFacts {
  const files = new Map<string, string | null>(paths.map((p) => [p, null]))
  const meta = new Map<string, FileMeta>()
  let hosts = ''
  let running: RunningPeer[] | null = null
  let runningListenPort: number | undefined
  let keepalive = new Map<string, number>()
  let systemd = false
  let unitEnabled = false
  const links = new Map<string, string>()
  const torn: string[] = []

  const lines = out.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (!line.startsWith(MARK)) continue
    const [kind, ...rest] = line.slice(MARK.length + 1).split(' ')
    if (kind === 'systemd') {
      systemd = true
      unitEnabled = rest.join(' ').trim() === 'enabled'
      continue
    }
    if (kind === 'port') {
      const port = Number(rest[0])
      if (Number.isInteger(port) && port > 0) runningListenPort = port
      continue
    }
    if (kind === 'link') {
      // "<target> <path>": the target has no spaces we could not split (readlink -f of our own paths).
      const [target, ...path] = rest
      links.set(path.join(' '), target)
      continue
    }
    if (kind === 'same') {
      const path = rest.join(' ')
      if (expected.has(path)) files.set(path, expected.get(path)!)
      continue
    }
    if (kind === 'torn') {
      torn.push(rest.join(' '))
      continue
    }
    if (kind === 'meta') {
      const [owner, mode, ...path] = rest
      if (owner && /^[0-7]{1,4}$/.test(mode ?? '')) meta.set(path.join(' '), {owner, mode: Number.parseInt(mode, 8)})
      continue
    }
    const body: string[] = []
    while (++i < lines.length && lines[i] !== `${MARK} end`) body.push(lines[i])
    if (kind === 'file') files.set(rest.join(' '), decode(body))
    else if (kind === 'hosts') hosts = decode(body)
    else if (kind === 'wg') running = parseAllowedIps(body)
    else if (kind === 'keepalive') keepalive = parseKeepalive(body)
  }
  // Keepalive is known only when it was read: an older facts output leaves it undefined (not compared).
  if (running) running = running.map((p) => (keepalive.has(p.publicKey) ? {...p, keepalive: keepalive.get(p.publicKey)} : p))
  return {files, meta, hosts, running, runningListenPort, systemd, unitEnabled, ...(links.size ? {links} : {}), ...(torn.length ? {torn} : {})}
}

/** `wg show <if> persistent-keepalive`: "<public key>\t<seconds>" or "off" (= 0). */
export function parseKeepalive(lines: string[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const l of lines) {
    const [key, value] = l.split('\t')
    if (!key?.trim() || value === undefined) continue
    out.set(key.trim(), value.trim() === 'off' ? 0 : Number(value.trim()))
  }
  return out
}

/** `wg show <if> allowed-ips`: "<public key>\t<ip/cidr> <ip/cidr>" or "(none)". No private key in it. */
export function parseAllowedIps(lines: string[]): RunningPeer[] {
  return lines
    .filter((l) => l.trim())
    .map((l) => {
      const [publicKey, ips = ''] = l.split('\t')
      return {publicKey: publicKey.trim(), allowedIps: ips.trim() === '(none)' ? [] : ips.trim().split(/\s+/).filter(Boolean)}
    })
}
