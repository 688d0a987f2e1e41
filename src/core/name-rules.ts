// Host names that cannot resolve to the tunnel, whatever /etc/hosts says. Pure.
// Each is refused at validation, because once rendered the hosts block would fight the stock entries,
// or a resolver would never look the name up at all.
import {FieldIssue} from './errors.js'

/** Names a stock /etc/hosts (Debian, macOS) already maps to loopback or multicast addresses. */
const RESERVED = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', 'ip6-localnet', 'ip6-mcastprefix', 'ip6-allnodes', 'ip6-allrouters', 'ip6-allhosts', 'broadcasthost'])

/**
 * glibc's getaddrinfo and Erlang's inet:getaddr parse a name with inet_aton before any lookup: "1234" is
 * 0.0.4.210 and "0x1f" is 0.0.0.31, so such a host name never reaches /etc/hosts.
 */
export const readsAsNumber = (name: string) => /^\d+$/.test(name) || /^0x[0-9a-f]*$/i.test(name)

/** Per-host name problems and collisions between one host's name and another's `<name>-wg` alias. */
export function checkHostNames(hosts: {name: string}[]): FieldIssue[] {
  const issues: FieldIssue[] = []
  const index = new Map(hosts.map((h, i) => [h.name.toLowerCase(), i]))
  hosts.forEach((h, i) => {
    const path = `hosts[${i}].name (host ${h.name})`
    const key = h.name.toLowerCase()
    if (RESERVED.has(key)) {
      issues.push({path, message: `"${h.name}" is a name every stock /etc/hosts already maps (to loopback or multicast): it cannot also be a mesh address`, fix: 'use the host\'s real short hostname, e.g. Host-A'})
    }
    if (readsAsNumber(h.name)) {
      issues.push({path, message: `"${h.name}" reads as a number to resolvers (inet_aton takes it for an IPv4 address), so it never resolves through /etc/hosts`, fix: 'use a hostname with at least one letter that does not start with 0x, e.g. node-1234'})
    }
    // Host "db-wg" next to host "db": the block would map "db-wg" both to a mesh address and to db's endpoint.
    const owner = key.endsWith('-wg') ? index.get(key.slice(0, -3)) : undefined
    if (owner !== undefined && owner !== i) {
      issues.push({path, message: `equals the ${hosts[owner].name}-wg alias of hosts[${owner}] (${hosts[owner].name}), which maps to that host's public endpoint`, fix: `rename one of the two hosts: a host name must not be another host's name followed by -wg`})
    }
  })
  return issues
}
