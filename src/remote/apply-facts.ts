// Apply's facts: the facts script (one round trip per host) and its pure parser. File contents come back base64
// encoded so that any byte, including invalid UTF-8 in a user's /etc/hosts, survives the trip; owner
// and mode of each file come from stat, so a changed owner (beam.user) is planned as a change.
import {FileMeta, ApplyHostFacts, RunningPeer} from '../core/plan.js'
import {RECOVER_FUNCTIONS} from './write-script.js'

const MARK = '@@beam-mesh'

/**
 * $1 interface, $2 \`repair\` or \`check\`, then the managed paths. A file left half-written by an interrupted in-place
 * write (see write-script.ts) is put back from its backup first (repair), or reported as \`torn\` and read from its
 * backup (check: a preview changes nothing); either way the plan is made from the bytes it will start from.
 * A symlink is reported with its target: writes go through it.
 */
export const FACTS_SCRIPT = `iface=$1; mode=$2; shift 2
${RECOVER_FUNCTIONS}
# How a managed file is read: a prepended fragment may define it (network.keys: host hides the private key).
type show_file >/dev/null 2>&1 || show_file() { base64 < "$1"; }
# Sets src (what to read for $1) and reports a link or a torn file, before the file's own block.
locate() {
  r=$1
  if [ -L "$1" ]; then r=$(readlink -f -- "$1") || exit 1; printf '${MARK} link %s %s\\n' "$r" "$1"; fi
  src=$r
  leftovers "$r" || return 0
  if [ "$mode" = repair ]; then recover "$r" || exit 1
  elif [ "$(recover "$r" check)" = torn ]; then printf '${MARK} torn %s\\n' "$1"; src="$(journal_of "$r").bak"; fi
}
for f in "$@"; do
  [ -e "$f" ] || continue
  locate "$f"; printf '${MARK} file %s\\n' "$f"; show_file "$src" || exit 1; printf '${MARK} end\\n'
done
# Owner and mode of every file there, in one process (the missing ones only complain on stderr).
[ $# -eq 0 ] || stat -L -c '${MARK} meta %U %a %n' -- "$@" 2>/dev/null
src=/dev/null; [ ! -e /etc/hosts ] || locate /etc/hosts
printf '${MARK} hosts\\n'; base64 < "$src" || exit 1; printf '${MARK} end\\n'
if out=$(wg show "$iface" allowed-ips 2>/dev/null); then printf '${MARK} wg\\n%s\\n${MARK} end\\n' "$out"
  printf '${MARK} keepalive\\n%s\\n${MARK} end\\n' "$(wg show "$iface" persistent-keepalive 2>/dev/null)"
  printf '${MARK} port %s\\n' "$(wg show "$iface" listen-port 2>/dev/null)"
fi
if [ -d /run/systemd/system ]; then printf '${MARK} systemd %s\\n' "$(systemctl is-enabled "wg-quick@$iface" 2>/dev/null || true)"; fi
exit 0`

const decode = (lines: string[]) => Buffer.from(lines.join(''), 'base64').toString('latin1')

export function parseFactsOutput(out: string, paths: string[]): ApplyHostFacts {
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
