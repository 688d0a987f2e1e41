// Connecting to inventory hosts: the inventory's ssh: section, with its paths relative to the inventory file.
import {dirname, isAbsolute, resolve} from 'node:path'

import {Inventory} from '../core/inventory.js'
import {MeshHost} from '../core/model.js'
import {ConnectOptions, connect, connectOptionsFrom} from '../remote/ssh.js'
import {Transport} from '../remote/transport.js'

/** Only the name and SSH target are used, so an archived host (no longer a MeshHost) can be reached too. */
export type Connector = (host: Pick<MeshHost, 'name' | 'ssh'>) => Promise<Transport>

const relativeTo = (base: string, p?: string) => (p === undefined || isAbsolute(p) || p.startsWith('~') ? p : resolve(base, p))

export function inventorySsh(inventoryFile: string, inv: Inventory): Inventory['ssh'] {
  const base = dirname(resolve(inventoryFile))
  return {
    ...inv.ssh,
    identityFile: relativeTo(base, inv.ssh.identityFile),
    knownHostsFile: relativeTo(base, inv.ssh.knownHostsFile),
    configFile: relativeTo(base, inv.ssh.configFile),
  }
}

export function sshConnector(inventoryFile: string, inv: Inventory, extra: Partial<ConnectOptions> = {}): Connector {
  const ssh = inventorySsh(inventoryFile, inv)
  return (host) => connect(host.ssh, connectOptionsFrom(ssh, host.name, extra))
}
