// Names, addresses and paths of a lab. Pure: everything `up` creates and `down` removes is derived here.
import {isAbsolute, join, resolve} from 'node:path'

import {UserError} from '../core/errors.js'

/** The lab's "public" network (RFC 2544 benchmark range): traffic never leaves the lab's bridge. */
export const LAB_SUBNET = '198.18.0.0/24'
export const LAB_GATEWAY = '198.18.0.1'
/**
 * Several labs can be up at once on different /24s of 198.18.0.0/15 (`--net N` -> 198.18.N.0/24),
 * e.g. for test suites running side by side. net 0 is the default lab.
 */
export interface LabNet {
  net: number
  subnet: string
  /** The root namespace's address in the lab (198.18.N.1): the controller's side of its link to the router. */
  gateway: string
  /** The lab router's address (198.18.N.0, the other end of the gateway's /31): every host's next hop. */
  router: string
  hostAddress: (i: number) => string
}

export function labNet(net = 0): LabNet {
  if (!Number.isInteger(net) || net < 0 || net > 255) throw new UserError(`lab net ${net} is out of range`, 'use --net 0..255 (198.18.N.0/24)')
  return {net, subnet: `198.18.${net}.0/24`, gateway: `198.18.${net}.1`, router: `198.18.${net}.0`, hostAddress: (i) => `198.18.${net}.${i + 1}`}
}
/** Addresses .2 … .254 are hosts. */
export const MAX_LAB_HOSTS = 253
/** Mesh addresses written into the lab inventory (used only inside the namespaces). */
export const LAB_MESH_IPV4 = '10.99.0.0/24'
export const LAB_MESH_IPV6 = 'fd99:99::/64'
export const DEFAULT_PREFIX = 'bm'
export const DEFAULT_DIR = 'lab'

/** Capitalised on purpose: the mesh must keep the case of hostnames (Erlang node names are case-sensitive). */
export const hostName = (i: number) => `Host-${i}`
export const hostAddress = (i: number) => `198.18.0.${i + 1}`
export const namespaceName = (prefix: string, i: number) => `${prefix}-host-${i}`
/** Router-namespace end of the host's veth (at most 15 characters: prefix ≤ 8, i ≤ 253). */
export const vethName = (prefix: string, i: number) => `${prefix}-h${i}`
/** Labs made before the routed design had a bridge of this name; `down` still removes one. */
export const bridgeName = (prefix: string) => `${prefix}-br0`
/** Root-namespace end of the link to the lab's router; it holds the gateway address. */
export const uplinkName = (prefix: string) => `${prefix}-gw`
/** The lab's router: a network namespace that forwards between the hosts' links and the uplink. */
export const routerName = (prefix: string) => `${prefix}-router`
/** Inside the router, the uplink's end. */
export const ROUTER_UPLINK = 'uplink'
/** Inside the host the veth end is called eth0, like a real server's NIC. */
export const HOST_IFACE = 'eth0'

/** Interface and namespace names are built from the prefix, so it must be short and plain. */
export function checkPrefix(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) {
    throw new UserError(`lab prefix "${prefix}" is not usable`, 'use 1-8 lowercase letters or digits starting with a letter, e.g. bm')
  }
  return prefix
}

export function checkHostCount(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LAB_HOSTS) {
    throw new UserError(`--hosts ${n} is out of range`, `choose 1 to ${MAX_LAB_HOSTS} hosts (one /24 of addresses)`)
  }
  return n
}

/** Files written into the lab directory. Paths go into sshd_config, so they must be plain. */
export interface LabPaths {
  dir: string
  stateFile: string
  inventory: string
  knownHosts: string
  identity: string
  identityPub: string
  machines: string
}

export function labPaths(dirArg: string): LabPaths {
  const dir = isAbsolute(dirArg) ? dirArg : resolve(dirArg)
  if (!/^[A-Za-z0-9_./@+-]+$/.test(dir)) {
    throw new UserError(`lab directory "${dir}" contains spaces or special characters`, 'choose a plain path, e.g. --dir lab/')
  }
  return {
    dir,
    stateFile: join(dir, 'lab.json'),
    inventory: join(dir, 'inventory.yaml'),
    knownHosts: join(dir, 'known_hosts'),
    identity: join(dir, 'id_ed25519'),
    identityPub: join(dir, 'id_ed25519.pub'),
    machines: join(dir, 'machines'),
  }
}

export interface HostPaths {
  dir: string
  etcHosts: string
  wireguard: string
  /** The host's own /etc/beam-mesh (BEAM artifacts, cookie, firewall). */
  beamMesh: string
  /**
   * The host's own /root, empty like a fresh server's: root's shell on the machine would otherwise run the
   * machine's ~/.bashrc (pyenv, nvm…) for every SSH command, on every host at once.
   */
  rootHome: string
  sshdConfig: string
  hostKey: string
  authorizedKeys: string
  pidFile: string
  log: string
}

export function hostPaths(paths: LabPaths, name: string): HostPaths {
  const dir = join(paths.machines, name)
  return {
    dir,
    etcHosts: join(dir, 'etc-hosts'),
    wireguard: join(dir, 'etc-wireguard'),
    beamMesh: join(dir, 'etc-beam-mesh'),
    rootHome: join(dir, 'root-home'),
    sshdConfig: join(dir, 'sshd_config'),
    hostKey: join(dir, 'ssh_host_ed25519_key'),
    authorizedKeys: join(dir, 'authorized_keys'),
    pidFile: join(dir, 'sshd.pid'),
    log: join(dir, 'sshd.log'),
  }
}
