// state.json is checked field by field before it is used: it is a file on disk, edited by hand or damaged
// by a bad restore, and its values end up in configs on every host and in what we print. A file that
// does not match exits 2 naming the field, never a raw TypeError deep in the planner.
// A namespace import, so the build keeps only the zod it uses ({z} would bundle every locale, ~290 KB).
import * as z from 'zod'

import {escapeForTerminal} from '../core/display.js'
import {UserError} from '../core/errors.js'
import {HOST_LABEL, isDnsName, isIp} from '../core/names.js'
import {isWgKey} from '../core/wgkeys.js'

const hostName = z.string().regex(HOST_LABEL, 'must be a host name as in the inventory')
const wgKey = z.string().refine(isWgKey, 'must be a WireGuard public key (44 characters of base64)')
const ip = (family: 4 | 6) => z.string().refine((s) => isIp(s) && s.includes(':') === (family === 6), `must be an IPv${family} address`)
/** Printable text of a sane length: nothing in state.json needs control characters. */
const plain = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')

const HostStateSchema = z
  .object({
    ipv4: ip(4).optional(),
    ipv6: ip(6).optional(),
    // Absent only with network.keys: host, until the first apply collects the key the host made.
    publicKey: wgKey.optional(),
    pendingPublicKey: wgKey.optional(),
    keyCheck: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 hex digits (delete the field: the next run writes it again)').optional(),
    rotateOnHost: z.literal(true).optional(),
    endpoint: z.string().refine((s) => isIp(s) || isDnsName(s), 'must be an IP address or DNS name').optional(),
    ssh: z.object({user: plain.optional(), host: plain, port: z.number().int().min(1).max(65535).optional()}).strict().optional(),
  })
  .strict()

export const MeshStateSchema = z
  .object({
    version: z.literal(1),
    // Set once a mesh keeps its private keys on its hosts (network.keys: host): going back to local is refused.
    keys: z.literal('host').optional(),
    hosts: z.record(hostName, HostStateSchema),
    // Files written before hosts could be removed have no archived list: that is an empty one.
    archived: z.array(HostStateSchema.extend({name: hostName, teardownPending: z.boolean()}).strict()).default([]),
  })
  .strict()

/** A field path; keys come from the file, so they are escaped (a host name key may hold anything). */
const fmt = (path: PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${escapeForTerminal(String(p))}`)).join('') || '(top level)'

/** The parsed JSON of state.json, checked; throws a UserError naming the first bad fields. */
export function parseState(raw: unknown, file: string): z.infer<typeof MeshStateSchema> {
  if (raw !== null && typeof raw === 'object' && 'version' in raw && raw.version !== 1) {
    throw new UserError(`${file} has format version ${JSON.stringify(raw.version)}, this mesh reads version 1`, 'use the beam-mesh version that wrote it')
  }
  const result = MeshStateSchema.safeParse(raw)
  if (result.success) return result.data
  const issues = result.error.issues.slice(0, 5).map((i) => `  - ${fmt(i.path)}: ${i.message}`)
  throw new UserError(
    `${file} is not a valid mesh state:\n${issues.join('\n')}`,
    `restore ${file} from a backup (it holds the address assignments and public keys), or correct the field named; ` +
      'deleting it makes every address be allocated anew',
  )
}
