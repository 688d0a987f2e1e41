// Which credentials we offer: the ssh-agent first (keys never leave it), then identity files.
// We never prompt, so passphrase-protected files are skipped with a hint to load them into the agent.
// `tried` describes each attempt for the auth-failure message: paths and key types, never key bytes.
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {UserError} from '../core/errors.js'
import type {AgentAuthMethod, ParsedKey, PublicKeyAuthMethod} from 'ssh2'
import {loadSsh2} from './ssh2-module.js'

export type AuthMethod = AgentAuthMethod | PublicKeyAuthMethod

export interface AuthPlan {
  methods: AuthMethod[]
  tried: string[]
}

export interface AuthInputs {
  user: string
  /** Path of the agent socket; undefined/empty = no agent. */
  agentSocket?: string
  /** Explicit files (inventory first, then ssh config); when none, OpenSSH's defaults are used. */
  identityFiles: readonly string[]
  home: string
}

export const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa']

/** `~/` and `%d` (home) as OpenSSH expands them in IdentityFile. */
export function expandHome(path: string, home: string): string {
  if (path === '~') return home
  if (path.startsWith('~/')) return join(home, path.slice(2))
  return path.replace(/%d/g, home)
}

export async function planAuth(inputs: AuthInputs): Promise<AuthPlan> {
  const methods: AuthMethod[] = []
  const tried: string[] = []
  if (inputs.agentSocket) {
    methods.push({type: 'agent', username: inputs.user, agent: inputs.agentSocket})
    tried.push(`ssh-agent (SSH_AUTH_SOCK=${inputs.agentSocket})`)
  }
  const explicit = inputs.identityFiles.length > 0
  const files = explicit
    ? [...new Set(inputs.identityFiles.map((f) => expandHome(f, inputs.home)))]
    : DEFAULT_IDENTITIES.map((f) => join(inputs.home, '.ssh', f))
  for (const file of files) {
    const open = await tooOpen(file)
    if (open) {
      // As OpenSSH: a private key others can read is not used. One named in the config is an error to fix;
      // a default one is skipped (the auth-failure message lists it with the fix).
      if (explicit) throw new UserError(`identity file ${file}: permissions ${open} are too open: a private key must not be readable by group or others`, `chmod 600 '${file}'`)
      tried.push(`identity file ${file}: refused, permissions ${open} are too open (fix: chmod 600 '${file}')`)
      continue
    }
    const loaded = await loadIdentity(file)
    if (loaded.key) {
      methods.push({type: 'publickey', username: inputs.user, key: loaded.key})
      tried.push(`identity file ${file} (${loaded.type})`)
    } else if (explicit || loaded.reason !== 'not found') {
      // Missing default files are normal; anything else is worth telling.
      tried.push(`identity file ${file}: skipped, ${loaded.reason}`)
    }
  }
  if (methods.length === 0) tried.push('no ssh-agent (SSH_AUTH_SOCK unset) and no usable identity file')
  return {methods, tried}
}

/** The octal mode when group or others may read or write the file (OpenSSH's sshkey_perm_ok), else null. */
async function tooOpen(file: string): Promise<string | null> {
  try {
    const mode = (await stat(file)).mode & 0o777
    return mode & 0o077 ? `0${mode.toString(8)}` : null
  } catch {
    return null // missing or unreadable: loadIdentity says why
  }
}

async function loadIdentity(file: string): Promise<{key?: Buffer; type?: string; reason?: string}> {
  let buf: Buffer
  try {
    buf = await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return {reason: code === 'ENOENT' ? 'not found' : `unreadable (${code})`}
  }
  const parsed = (await loadSsh2()).utils.parseKey(buf)
  if (parsed instanceof Error) {
    // The parser's message may quote the file, so only its category is reported.
    return {reason: /passphrase|encrypted/i.test(parsed.message)
      ? 'passphrase-protected (add it to ssh-agent with `ssh-add`)'
      : 'not a private key ssh2 can read'}
  }
  // A file holding several keys may parse to a list: the first one is used.
  const key: ParsedKey = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed
  if (!key.isPrivateKey()) return {reason: 'not a private key'}
  return {key: buf, type: key.type}
}
