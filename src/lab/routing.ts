// The lab's network: routed, not one flat L2 segment. A router namespace has a /31 uplink to the root namespace
// and one point-to-point veth per host; the host's whole /24 is reached through it. So every host keeps ONE
// neighbour entry (the router), the root namespace one, the router one per host: about 2N+2 entries in the
// kernel's ARP table for N hosts, instead of N×(N−1) on a bridge (a 64-host full mesh overflowed the table's
// global limit, gc_thresh3 = 1024, counted across all namespaces). Forwarding is switched on inside the router
// namespace only: no setting of the root namespace (or the machine) changes, so `down` has nothing to restore.
import {HOST_IFACE, LabNet, ROUTER_UPLINK} from './naming.js'
import {run} from './sys.js'
import {LabHost} from './types.js'

/** Several `ip` commands in one process (`ip -n <ns> -batch -`): a 64-host lab is ~200 processes, not ~700. */
function ipBatch(namespace: string | null, lines: string[]): void {
  run('ip', [...(namespace ? ['-n', namespace] : []), '-batch', '-'], `${lines.join('\n')}\n`)
}

/**
 * The router namespace and its uplink: root `<uplink>` 198.18.N.1/31 <-> router `uplink` 198.18.N.0/31, and in the
 * root namespace a route to the lab's /24 through the router. The router has no default route: nothing it
 * forwards can leave the lab.
 */
export function createRouter(router: string, uplink: string, net: LabNet): void {
  run('ip', ['netns', 'add', router])
  // Per-namespace setting: the root namespace's net.ipv4.ip_forward is not touched.
  run('ip', ['netns', 'exec', router, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward'])
  ipBatch(null, [
    `link add ${uplink} type veth peer name ${ROUTER_UPLINK} netns ${router}`,
    `addr add ${net.gateway}/31 dev ${uplink}`,
    `link set ${uplink} up`,
  ])
  ipBatch(router, ['link set lo up', `addr add ${net.router}/31 dev ${ROUTER_UPLINK}`, `link set ${ROUTER_UPLINK} up`])
  ipBatch(null, [`route add ${net.subnet} via ${net.router} dev ${uplink}`])
}

/**
 * The host's network: a namespace with loopback and eth0, a point-to-point veth to the router. eth0 shows the
 * host's address as /24 like a server on a LAN, but without the /24's on-link route: the /24 goes via the router
 * (198.18.N.0), so the host never resolves its peers' addresses itself. No default route on purpose: nothing
 * inside a lab host can reach beyond the lab's /24.
 */
export function createHostLink(host: LabHost, router: string, net: LabNet): void {
  const ns = host.namespace
  run('ip', ['netns', 'add', ns])
  ipBatch(router, [
    `link add ${host.veth} type veth peer name ${HOST_IFACE} netns ${ns}`,
    `link set ${host.veth} up`,
    `route add ${host.address}/32 dev ${host.veth}`,
  ])
  ipBatch(ns, [
    'link set lo up',
    `addr add ${host.address}/24 dev ${HOST_IFACE} noprefixroute`,
    `link set ${HOST_IFACE} up`,
    `route add ${net.router}/32 dev ${HOST_IFACE} scope link`,
    `route add ${net.subnet} via ${net.router} dev ${HOST_IFACE}`,
  ])
}
