// Reading ssh config files as OpenSSH does: the user's file (~/.ssh/config, or the one given, like `ssh -F`), then
// the system-wide /etc/ssh/ssh_config (skipped when a file is given, as -F does). `Include` takes paths and globs;
// a relative one is relative to ~/.ssh in the user's file and to /etc/ssh in the system file.
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {dirname, isAbsolute, join} from 'node:path'

import {UserError} from '../core/errors.js'
import {expandHome} from './ssh-auth.js'
import {IncludeReader, SshConfigBlock, parseSshConfig} from './ssh-config.js'

export const SYSTEM_SSH_CONFIG = '/etc/ssh/ssh_config'

/** `*` and `?` in one path component; case-sensitive, as file names are. */
const globPart = (pattern: string, name: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(name)

/** Files matching a glob (wildcards in any component), sorted like glob(3); none is fine, as in OpenSSH. */
export function expandGlob(pattern: string): string[] {
  const parts = pattern.split('/').filter((p, i) => p !== '' || i === 0)
  let paths = [parts[0] === '' ? '/' : parts[0]]
  for (const part of parts.slice(1)) {
    const next: string[] = []
    for (const dir of paths) {
      if (!/[*?]/.test(part)) {
        next.push(join(dir, part))
        continue
      }
      let names: string[] = []
      try {
        names = readdirSync(dir).filter((n) => !n.startsWith('.') && globPart(part, n)).sort()
      } catch {
        names = [] // not a directory, or unreadable: nothing matches
      }
      next.push(...names.map((n) => join(dir, n)))
    }
    paths = next
  }
  return paths.filter((p) => existsSync(p) && statSync(p).isFile())
}

function reader(base: string, home: string): IncludeReader {
  return (pattern) => {
    const expanded = expandHome(pattern, home)
    const abs = isAbsolute(expanded) ? expanded : join(base, expanded)
    return expandGlob(abs).map((f) => {
      try {
        return readFileSync(f, 'utf8')
      } catch (e) {
        throw new UserError(`ssh config: cannot read ${f} (Include ${pattern}): ${(e as Error).message}`, 'fix the Include line or the file')
      }
    })
  }
}

/**
 * The blocks of the user's config then the system one (first value wins, so the user's come first).
 * systemFile: default /etc/ssh/ssh_config; null skips it (tests).
 */
export function loadSshConfig(file: string | undefined, home: string, systemFile: string | null = SYSTEM_SSH_CONFIG): SshConfigBlock[] {
  const userFile = file ?? join(home, '.ssh', 'config')
  const blocks: SshConfigBlock[] = []
  if (file !== undefined || existsSync(userFile)) {
    // Relative includes in a user config resolve against ~/.ssh (also for a config given elsewhere, as in OpenSSH).
    blocks.push(...parseSshConfig(readFileSync(userFile, 'utf8'), reader(join(home, '.ssh'), home)))
  }
  if (file === undefined && systemFile !== null && existsSync(systemFile)) {
    blocks.push(...parseSshConfig(readFileSync(systemFile, 'utf8'), reader(dirname(systemFile), home)))
  }
  return blocks
}
