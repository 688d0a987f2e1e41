// Connect to many hosts at once, a few at a time: one slow or broken host must not sink the run,
// and sshd's MaxStartups punishes bursts of handshakes, so concurrency is bounded (default 8).
import type {Transport} from './transport.js'
import {IoTimer, ioTimeout} from './timeouts.js'

export type Connected<T> =
  | {item: T; name: string; transport: Transport; error?: undefined}
  | {item: T; name: string; error: Error; transport?: undefined}

export interface PoolOptions {
  concurrency?: number
}

/** Dials every item; resolves with one result per item, in input order, and never rejects. */
export async function connectAll<T extends {name: string}>(
  items: readonly T[],
  dial: (item: T) => Promise<Transport>,
  opts: PoolOptions = {},
): Promise<Connected<T>[]> {
  const limit = Math.max(1, Math.floor(opts.concurrency ?? 8))
  const results = new Array<Connected<T>>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      const item = items[i]
      try {
        results[i] = {item, name: item.name, transport: await dial(item)}
      } catch (err) {
        results[i] = {item, name: item.name, error: err instanceof Error ? err : new Error(String(err))}
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return results
}

/** A host whose connection had to be dropped at the end: its work was done, so this is a note, not a failure. */
export interface CloseNote {
  name: string
  note: string
}

/** Upper bound on closing all transports, even one whose close() misbehaves (the ssh2 one bounds itself). */
const CLOSE_ALL_BOUND_MS = 5000

/**
 * Closes every open transport at once, in bounded time whatever the peers do; never rejects. Returns a note for
 * each connection that could not be closed cleanly (the socket was dropped).
 */
export async function closeAll(
  results: ReadonlyArray<{transport?: Transport} | Transport | undefined>,
  boundMs = CLOSE_ALL_BOUND_MS,
): Promise<CloseNote[]> {
  const transports = results.map((r) => (r === undefined ? undefined : 'run' in r ? r : r.transport)).filter((t): t is Transport => t !== undefined)
  const notes = await Promise.all(transports.map((t) => closeOne(t, boundMs)))
  return notes.filter((n): n is CloseNote => n !== undefined)
}

async function closeOne(t: Transport, boundMs: number): Promise<CloseNote | undefined> {
  let timer: IoTimer | undefined
  // ioTimeout: a bound that fires late (no CPU for a while) must not abandon a close that already came.
  const bound = new Promise<CloseNote>((resolve) => {
    const note = `closing the connection took longer than ${boundMs / 1000} s: abandoned`
    timer = ioTimeout(boundMs, () => resolve({name: t.name, note}), {unref: true})
  })
  const closed = t.close().then(
    (r) => (r && r.forced ? {name: t.name, note: r.detail ?? 'the connection did not close cleanly: dropped'} : undefined),
    (e: unknown) => ({name: t.name, note: `closing the connection failed: ${(e as Error).message ?? String(e)}`}),
  )
  try {
    return await Promise.race([closed, bound])
  } finally {
    timer?.clear()
  }
}

/** The transports of the hosts that connected, by name. */
export function connectedByName<T>(results: readonly Connected<T>[]): Map<string, Transport> {
  return new Map(results.flatMap((r) => (r.transport ? [[r.name, r.transport] as const] : [])))
}
