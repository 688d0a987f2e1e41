// What a lab is made of (lab.json) and what each lab command returns (its --json).

/** A mount made inside a host's private mount namespace (it vanishes with the host's processes). */
export interface LabMount {
  target: string
  source: string
  type: 'tmpfs' | 'bind'
}

export interface LabHost {
  /** Hostname inside the host (its own UTS namespace), e.g. Host-1. */
  name: string
  /** Network namespace, e.g. bm-host-1. */
  namespace: string
  /** The lab router's end of the host's point-to-point veth (in the router namespace). */
  veth: string
  /** "Public" address in the lab's /24: the endpoint and SSH address. */
  address: string
  sshPort: number
  /** The host's files in the lab directory (sshd_config, host key, etc-hosts, etc-wireguard, log). */
  dir: string
  sshdConfig: string
  etcHosts: string
  /** The sshd that owns the host's mount and UTS namespaces; labExec enters them through it. */
  pid?: number
  mounts: LabMount[]
}

/** lab.json: written before anything is created and updated as it goes, so `down` can undo a half-made lab. */
export interface LabState {
  version: 1
  prefix: string
  dir: string
  /** The lab's link in the root namespace: the uplink to its router (labs made before routing: a bridge). */
  bridge: string
  /** The router namespace (absent in labs made before routing). */
  router?: string
  subnet: string
  gateway: string
  createdAt: string
  inventory: string
  identityFile: string
  knownHostsFile: string
  hosts: LabHost[]
}

export interface LabUpResult extends LabState {
  /** How to reach a host by hand. */
  sshExample: string
}

export interface LabDownResult {
  dir: string
  prefix: string
  killedPids: number[]
  namespacesDeleted: string[]
  linksDeleted: string[]
  unmounted: string[]
  filesRemoved: string[]
  /** True when there was nothing left to remove. */
  alreadyClean: boolean
}

export interface LabHostStatus {
  name: string
  namespace: string
  address: string
  pid?: number
  namespaceExists: boolean
  sshdRunning: boolean
  /** sshd's banner when it answered on port 22, e.g. SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10. */
  sshBanner?: string
}

export interface LabStatusResult {
  dir: string
  prefix: string
  bridge: string
  bridgeUp: boolean
  inventory: string
  hosts: LabHostStatus[]
  /** All hosts answer SSH. */
  healthy: boolean
}

export type Progress = (message: string) => void
