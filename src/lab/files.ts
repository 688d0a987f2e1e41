// The files of a lab: each host's /etc/hosts seed and sshd_config, the client key, known_hosts, the inventory.
import {chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {relative} from 'node:path'

import {HostPaths, LAB_MESH_IPV4, LAB_MESH_IPV6, LabPaths} from './naming.js'
import {run} from './sys.js'
import {LabHost} from './types.js'

/**
 * A realistic default /etc/hosts. Deliberately no `127.0.1.1 <hostname>` line: it would shadow the host's mesh
 * address. The last two lines stand for a user's own entries: tests check they survive byte for byte.
 */
export function seedHostsFile(name: string): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
    `# ${name}: the operator's own entries below must survive beam-mesh untouched`,
    '198.18.0.1\tlab-gateway.example lab-gateway',
    '',
  ].join('\n')
}

export function sshdConfig(host: LabHost, p: HostPaths): string {
  return [
    `# sshd for lab host ${host.name} (namespace ${host.namespace}), written by mesh lab up`,
    `ListenAddress ${host.address}:${host.sshPort}`,
    `HostKey ${p.hostKey}`,
    `PidFile ${p.pidFile}`,
    `AuthorizedKeysFile ${p.authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The lab directory may live under /tmp (world-writable), which StrictModes would refuse; the key is 0600 anyway.
    'StrictModes no',
    // wg-quick falls back to wireguard-go here (no kernel module), which refuses to start without this.
    'SetEnv WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1',
    'Subsystem sftp internal-sftp',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    'LogLevel INFO',
    '',
  ].join('\n')
}

/** A fresh ed25519 key pair without passphrase (ssh-keygen refuses to overwrite, so old files go first). */
export function generateKey(file: string, comment: string): string {
  rmSync(file, {force: true})
  rmSync(`${file}.pub`, {force: true})
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file])
  chmodSync(file, 0o600)
  return readFileSync(`${file}.pub`, 'utf8').trim()
}

/** `198.18.0.2 ssh-ed25519 AAAA…` for one host, from its public host key (comment dropped). */
export function knownHostsLine(address: string, port: number, publicKey: string): string {
  const [type, key] = publicKey.split(/\s+/)
  return `${port === 22 ? address : `[${address}]:${port}`} ${type} ${key}`
}

export function writeHostFiles(host: LabHost, p: HostPaths, clientPublicKey: string): string {
  mkdirSync(p.dir, {recursive: true, mode: 0o700})
  chmodSync(p.dir, 0o700)
  writeFileSync(p.etcHosts, seedHostsFile(host.name), {mode: 0o644})
  for (const d of [p.wireguard, p.beamMesh, p.rootHome]) {
    mkdirSync(d, {recursive: true, mode: 0o700})
    chmodSync(d, 0o700)
  }
  writeFileSync(p.authorizedKeys, `${clientPublicKey}\n`, {mode: 0o600})
  writeFileSync(p.sshdConfig, sshdConfig(host, p), {mode: 0o600})
  return generateKey(p.hostKey, `root@${host.name}`)
}

/** A ready inventory for the lab: paths relative to the inventory, as the schema expects. */
export function inventoryYaml(paths: LabPaths, hosts: LabHost[]): string {
  const rel = (file: string) => `./${relative(paths.dir, file)}`
  const lines = [
    `# beam-mesh lab inventory, written by \`mesh lab up\` (${hosts.length} hosts in network namespaces).`,
    `# Endpoints and SSH go over the lab's routed network (${hosts[0]?.address.replace(/\.\d+$/, '.0/24')}); the mesh uses 10.99.0.0/24 inside the hosts.`,
    'network:',
    '  interface: wg0',
    `  ipv4: ${LAB_MESH_IPV4}`,
    `  ipv6: ${LAB_MESH_IPV6}`,
    '  listenPort: 51820',
    '  persistentKeepalive: 25',
    '',
    'beam:',
    '  nodeBasename: app',
    '  naming: sname',
    '',
    'ssh:',
    '  user: root',
    '  port: 22',
    `  identityFile: ${rel(paths.identity)}`,
    `  knownHostsFile: ${rel(paths.knownHosts)}`,
    '',
    'hosts:',
    ...hosts.flatMap((h) => [`  - name: ${h.name}`, `    endpoint: ${h.address}`, `    ssh: root@${h.address}:${h.sshPort}`]),
    '',
  ]
  return lines.join('\n')
}
