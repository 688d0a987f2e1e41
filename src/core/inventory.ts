// The inventory: YAML in, a validated typed model out. Pure: the caller reads the file.
import ipaddr from 'ipaddr.js'
// A namespace import, so the build keeps only the zod it uses ({z} would bundle every locale, ~290 KB).
import * as z from 'zod'

import {addressIssues} from './address-policy.js'
import {FieldIssue, InventoryError} from './errors.js'
import {FIXES, describePath} from './inventory-messages.js'
import {loadInventoryYaml} from './inventory-yaml.js'
import {InventoryCheck, validateInventory} from './inventory-validate.js'
import {checkHostNames} from './name-rules.js'
import {HOST_LABEL, canonicalIp, isDnsName, isIp, parseSshTarget} from './names.js'

export {type SshTarget, canonicalIp, parseSshTarget} from './names.js'

const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/
const IFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/
const ERL_NODE_BASENAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/
/** Characters that mean something to a shell. No field ever needs them, so they are refused everywhere. */
const SHELL_META = /[;&|$`<>(){}!*?\\'"\s#~^%=,]|[\u0000-\u001f\u007f]/

export const MAX_HOSTS = 5000

const safePath = z.string().min(1).max(4096).regex(/^[A-Za-z0-9_./@+-]+$/, 'must be a plain path (letters, digits, _ . / @ + -)')

function parsedCidr(s: string, family: 'ipv4' | 'ipv6'): [ipaddr.IPv4 | ipaddr.IPv6, number] | null {
  try {
    const parsed = ipaddr.parseCIDR(s)
    const ok = parsed[0].kind() === family && (family === 'ipv6' || ipaddr.IPv4.isValidFourPartDecimal(s.split('/')[0]))
    return ok ? parsed : null
  } catch {
    return null
  }
}

/** ::ffff:a.b.c.d: an IPv4 address in IPv6 clothing; WireGuard and the hosts treat it as neither cleanly. */
const isV4Mapped = (s: string) => ipaddr.IPv6.isValid(s) && ipaddr.IPv6.parse(s).isIPv4MappedAddress()

const cidr = (family: 'ipv4' | 'ipv6') =>
  z
    .string()
    .refine((s) => parsedCidr(s, family) !== null, {
      message: `must be an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} CIDR like ${family === 'ipv4' ? '10.77.0.0/24' : 'fd77:77::/64'}`,
    })
    .refine((s) => family === 'ipv4' || !isV4Mapped(s.split('/')[0]), {message: 'is an IPv4-mapped IPv6 prefix (::ffff:…): put IPv4 networks in network.ipv4'})
    .refine(
      (s) => {
        const p = parsedCidr(s, family)
        // Host bits set (10.77.0.9/24) usually means a typo; say which network the user probably meant.
        return !p || p[0].toString() === networkOf(s, family)
      },
      {message: 'has host bits set: give the network address itself (e.g. 10.77.0.0/24, not 10.77.0.9/24)'},
    )

const networkOf = (s: string, family: 'ipv4' | 'ipv6') =>
  (family === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(s) : ipaddr.IPv6.networkAddressFromCIDR(s)).toString()

const HostSchema = z
  .object({
    name: z.string().regex(HOST_LABEL, 'must be a short hostname: letters, digits and inner hyphens, at most 60 characters, no dots'),
    endpoint: z
      .string()
      .refine((s) => isIp(s) || isDnsName(s), 'must be a public IPv4/IPv6 address or a DNS name')
      .refine((s) => !isV4Mapped(s), 'is an IPv4-mapped IPv6 address (::ffff:…): write the plain IPv4 address'),
    ssh: z.string().optional(),
    address: z.string().refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s), 'must be an IPv4 address inside network.ipv4').optional(),
    address6: z
      .string()
      .refine((s) => ipaddr.IPv6.isValid(s), 'must be an IPv6 address inside network.ipv6')
      .refine((s) => !isV4Mapped(s), 'is an IPv4-mapped IPv6 address (::ffff:…): pin IPv4 addresses in address')
      .optional(),
    listenPort: z.number().int().min(1).max(65535).optional(),
  })
  .strict()

const NetworkSchema = z
  .object({
    interface: z.string().regex(IFACE_NAME, 'must be an interface name of at most 15 characters, e.g. wg0').default('wg0'),
    ipv4: cidr('ipv4').optional(),
    ipv6: cidr('ipv6').optional(),
    listenPort: z.number().int().min(1).max(65535).default(51820),
    mtu: z.number().int().min(1280).max(9000).optional(),
    persistentKeepalive: z.number().int().min(0).max(65535).optional(),
    presharedKeys: z.boolean().default(false),
    /** Where private keys are made and kept: the operator's state dir (local) or each host itself (host). */
    keys: z.enum(['local', 'host']).default('local'),
    /** A public range the operator owns may be the mesh network: only when said so (src/core/address-policy.ts). */
    allowPublicRange: z.boolean().default(false),
  })
  .strict()

const BeamSchema = z
  .object({
    nodeBasename: z.string().regex(ERL_NODE_BASENAME, 'must start with a letter and hold only letters, digits and _').default('app'),
    naming: z.enum(['sname', 'name']).default('sname'),
    epmd: z.boolean().default(true),
    distPortMin: z.number().int().min(1024).max(65535).default(9100),
    distPortMax: z.number().int().min(1024).max(65535).default(9105),
    firewall: z.boolean().default(false),
    /** The release's Unix user: it gets the cookie file (0400); default root (0600). */
    user: z.string().regex(USER_NAME, 'must be a Unix user name').optional(),
    /** The release's folder on the hosts (holds erts-*\/bin/erl): doctor's cluster probe runs that erl. */
    releaseRoot: safePath.refine((s) => s.startsWith('/'), 'must be an absolute path on the hosts, e.g. /opt/app').optional(),
  })
  .strict()

const SshSchema = z
  .object({
    user: z.string().regex(USER_NAME, 'must be a Unix user name').optional(),
    port: z.number().int().min(1).max(65535).optional(),
    identityFile: safePath.optional(),
    knownHostsFile: safePath.optional(),
    configFile: safePath.optional(),
    connectTimeoutSeconds: z.number().int().min(1).max(600).default(15),
  })
  .strict()

export const InventorySchema = z
  .object({
    network: NetworkSchema,
    beam: BeamSchema.default(BeamSchema.parse({})),
    ssh: SshSchema.default(SshSchema.parse({})),
    hosts: z.array(HostSchema).min(1).max(MAX_HOSTS),
  })
  .strict()

export type Inventory = z.infer<typeof InventorySchema>
export type InventoryHost = Inventory['hosts'][number]

function walkStrings(value: unknown, path: (string | number)[], out: {path: (string | number)[]; value: string}[]) {
  if (typeof value === 'string') out.push({path, value})
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, [...path, i], out))
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) walkStrings(v, [...path, k], out)
}

/** Parse and validate inventory YAML. Throws InventoryError listing every problem found. */
export function parseInventory(text: string, file: string): Inventory {
  const raw = loadInventoryYaml(text, file)
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InventoryError(file, [
      {path: '(top level)', message: 'the inventory must be a mapping with network: and hosts:', fix: 'start from inventory/example.yaml'},
    ])
  }

  const issues: FieldIssue[] = []
  const strings: {path: (string | number)[]; value: string}[] = []
  walkStrings(raw, [], strings)
  for (const s of strings) {
    const bad = SHELL_META.exec(s.value)
    if (bad) {
      issues.push({
        path: describePath(s.path, raw),
        message: `contains a character that is not allowed (${JSON.stringify(bad[0])})`,
        fix: 'remove shell metacharacters, spaces and quotes: values end up in configs and commands on the hosts',
      })
    }
  }
  const checked = validateInventory(raw as Record<string, unknown>, {
    schema: InventorySchema,
    hostSchema: HostSchema,
    optionalSections: ['beam', 'ssh'],
    checks: INVENTORY_CHECKS,
    earlier: issues,
  })
  if (!checked.inv) throw new InventoryError(file, checked.issues)
  return checked.inv
}

/** Cross-field checks, run even when the schema failed elsewhere (on the parts that are valid). Add new ones here. */
const INVENTORY_CHECKS: InventoryCheck<Inventory>[] = [(inv) => checkSemantics(inv), (inv) => addressIssues(inv)]

/** Cross-field rules zod cannot express per field. */
function checkSemantics(inv: Inventory): FieldIssue[] {
  const issues: FieldIssue[] = []
  const {network, beam} = inv
  if (!network.ipv4 && !network.ipv6) {
    issues.push({path: 'network', message: 'neither ipv4 nor ipv6 is set', fix: 'set network.ipv4 (e.g. 10.77.0.0/24) and/or network.ipv6'})
  }
  if (beam.distPortMin > beam.distPortMax) {
    issues.push({path: 'beam.distPortMin', message: `is above beam.distPortMax (${beam.distPortMax})`, fix: 'make distPortMin <= distPortMax'})
  }
  if (beam.distPortMin <= 4369 && 4369 <= beam.distPortMax) {
    issues.push({path: 'beam.distPortMin', message: 'the distribution port range includes EPMD\'s 4369', fix: 'move the range, e.g. 9100-9105'})
  }
  if (!beam.epmd && beam.distPortMin !== beam.distPortMax) {
    issues.push({
      path: 'beam.epmd',
      message: 'without EPMD every node must listen on one fixed port, but distPortMin != distPortMax',
      fix: 'set distPortMin and distPortMax to the same port, or set beam.epmd: true',
    })
  }
  if (beam.naming === 'name' && !network.ipv4) {
    issues.push({path: 'beam.naming', message: '"name" names nodes by their WireGuard IPv4 address, but network.ipv4 is not set', fix: 'set network.ipv4 or use naming: sname'})
  }

  const seenName = new Map<string, number>()
  const seenEndpoint = new Map<string, number>()
  inv.hosts.forEach((h, i) => {
    const key = h.name.toLowerCase()
    if (seenName.has(key)) {
      issues.push({
        path: `hosts[${i}].name (host ${h.name})`,
        message: `duplicates hosts[${seenName.get(key)}].name (names are compared case-insensitively, as /etc/hosts does)`,
        fix: 'give every host a unique hostname',
      })
    } else seenName.set(key, i)
    const ep = canonicalIp(h.endpoint) ?? h.endpoint.toLowerCase()
    const epKey = `${ep}:${h.listenPort ?? network.listenPort}`
    if (seenEndpoint.has(epKey)) {
      issues.push({
        path: `hosts[${i}].endpoint (host ${h.name})`,
        message: `duplicates the endpoint and port of hosts[${seenEndpoint.get(epKey)}]`,
        fix: 'every host needs its own public address (or its own listenPort)',
      })
    } else seenEndpoint.set(epKey, i)
    if (h.address && !network.ipv4) {
      issues.push({path: `hosts[${i}].address (host ${h.name})`, message: 'is set but network.ipv4 is not', fix: 'set network.ipv4 or remove the address'})
    }
    if (h.address6 && !network.ipv6) {
      issues.push({path: `hosts[${i}].address6 (host ${h.name})`, message: 'is set but network.ipv6 is not', fix: 'set network.ipv6 or remove address6'})
    }
    if (h.ssh !== undefined && parseSshTarget(h.ssh) === null) {
      issues.push({path: `hosts[${i}].ssh (host ${h.name})`, message: `"${h.ssh}" is not a valid SSH target`, fix: FIXES.ssh})
    }
    // Only the bare hostname collides with the hosts block; an FQDN such as host-a.example.com does not.
    if (h.endpoint.toLowerCase() === key) {
      issues.push({
        path: `hosts[${i}].endpoint (host ${h.name})`,
        message: 'is the host\'s own hostname, which maps to its WireGuard address inside the mesh',
        fix: 'use the public IP address, or a DNS name different from the hostname',
      })
    }
  })
  issues.push(...checkHostNames(inv.hosts))
  return issues
}
