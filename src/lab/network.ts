// The lab's links and namespaces as the root namespace sees them: listing, probing, deleting (routing.ts builds them).
import {UserError} from '../core/errors.js'
import {LAB_GATEWAY, routerName} from './naming.js'
import {tryRun} from './sys.js'

export function listNamespaces(): string[] {
  const res = tryRun('ip', ['netns', 'list'])
  // Lines look like "bm-host-1 (id: 3)" or just "bm-host-1".
  return res.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean)
}

/** Names of links in the root namespace (without the @peer suffix). */
export function listLinks(): string[] {
  const res = tryRun('ip', ['-o', 'link', 'show'])
  return res.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((x): x is string => Boolean(x))
}

/** Which root-namespace interface already holds the lab gateway address (another lab, or anything else). */
export function gatewayHolder(gateway = LAB_GATEWAY): string | null {
  const res = tryRun('ip', ['-o', '-4', 'addr', 'show'])
  const line = res.stdout.split('\n').find((l) => l.includes(` ${gateway}/`))
  return line ? (/^\d+:\s+(\S+)/.exec(line)?.[1] ?? '?') : null
}

/** Refuses to build over an existing lab: two labs on one /24 would fight over routing. */
export function assertNetworkFree(prefix: string, gateway = LAB_GATEWAY): void {
  const leftovers = [
    ...listNamespaces().filter((n) => n.startsWith(`${prefix}-host-`) || n === routerName(prefix)),
    ...listLinks().filter((l) => l.startsWith(`${prefix}-`)),
  ]
  const fix = `run \`mesh lab down --prefix ${prefix}\` (with the --dir of that lab) first`
  if (leftovers.length) throw new UserError(`a lab with prefix "${prefix}" already exists (${leftovers.join(', ')})`, fix)
  const holder = gatewayHolder(gateway)
  if (holder) {
    throw new UserError(
      `${gateway} (the lab gateway) is already on interface ${holder}: another lab is probably up`,
      /-(br0|gw)$/.test(holder) ? `run \`mesh lab down --prefix ${holder.replace(/-(br0|gw)$/, '')}\` first, or use another --net` : `remove ${gateway} from ${holder}`,
    )
  }
}

/** Pids of every process whose network namespace is `ns` (sshd, wireguard-go, epmd, beam.smp, shells…). */
export function namespacePids(ns: string): number[] {
  const res = tryRun('ip', ['netns', 'pids', ns])
  return res.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number)
}

export function deleteNamespace(ns: string): boolean {
  return tryRun('ip', ['netns', 'del', ns]).status === 0
}

export function deleteLink(name: string): boolean {
  return tryRun('ip', ['link', 'del', name]).status === 0
}

export function linkIsUp(name: string): boolean {
  const res = tryRun('ip', ['-o', 'link', 'show', name])
  return res.status === 0 && /[<,]UP[,>]/.test(res.stdout)
}
