// A free lab slot (prefix + /24) claimed at run time, so test runs and benches on one machine never collide.
// A claim is a directory named after the /24 under a root-only registry: mkdir is atomic, so of two processes
// racing for one net exactly one wins. A claim whose owner process is gone is taken over by renaming it away
// first (rename is atomic too: only one racer moves it).
import {mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {gatewayHolder, listLinks, listNamespaces} from './network.js'
import {labNet} from './naming.js'

export const SLOT_REGISTRY = '/run/beam-mesh-lab-slots'
/** Nets 100..254 are handed out at run time; 0..99 stay for labs made by hand (`mesh lab up --net N`). */
const FIRST_NET = 100
const LAST_NET = 254

export interface LabSlot {
  /** Namespace/link prefix, unique per net: `bmt<net>` (≤ 8 characters). */
  prefix: string
  net: number
  release(): void
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A claim is stale when its owner is dead, or when it never got an owner file within 30 s of being made. */
function isStale(claim: string): boolean {
  try {
    const pid = Number(readFileSync(join(claim, 'pid'), 'utf8'))
    return !(Number.isInteger(pid) && pid > 0 && alive(pid))
  } catch {
    try {
      return Date.now() - statSync(claim).mtimeMs > 30_000
    } catch {
      return false
    }
  }
}

function inUseByAnything(prefix: string, net: number): boolean {
  if (gatewayHolder(labNet(net).gateway)) return true
  return listNamespaces().some((n) => n.startsWith(`${prefix}-`)) || listLinks().some((l) => l.startsWith(`${prefix}-`))
}

function tryClaim(net: number): boolean {
  const claim = join(SLOT_REGISTRY, String(net))
  try {
    mkdirSync(claim, {mode: 0o700})
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !isStale(claim)) return false
    const grave = `${claim}.stale-${process.pid}-${Date.now()}`
    try {
      renameSync(claim, grave)
    } catch {
      return false // another process took it over first
    }
    rmSync(grave, {recursive: true, force: true})
    try {
      mkdirSync(claim, {mode: 0o700})
    } catch {
      return false
    }
  }
  writeFileSync(join(claim, 'pid'), String(process.pid))
  return true
}

/** Claims a free slot (root; the lab needs root anyway). Release it after `lab down`. */
export function claimLabSlot(): LabSlot {
  mkdirSync(SLOT_REGISTRY, {recursive: true, mode: 0o700})
  const span = LAST_NET - FIRST_NET + 1
  const start = Math.floor(Math.random() * span)
  for (let i = 0; i < span; i++) {
    const net = FIRST_NET + ((start + i) % span)
    const prefix = `bmt${net}`
    if (!tryClaim(net)) continue
    if (inUseByAnything(prefix, net)) {
      // Something not registered (a lab left by a crashed run, a hand-made one) sits there: leave it alone.
      rmSync(join(SLOT_REGISTRY, String(net)), {recursive: true, force: true})
      continue
    }
    let released = false
    return {
      prefix,
      net,
      release() {
        if (released) return
        released = true
        rmSync(join(SLOT_REGISTRY, String(net)), {recursive: true, force: true})
      },
    }
  }
  throw new Error(`no free lab slot: nets ${FIRST_NET}..${LAST_NET} are all claimed (see ${SLOT_REGISTRY})`)
}
