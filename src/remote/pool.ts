// Connect to many hosts at once, a few at a time: one slow or broken host must not sink the run,
// and sshd's MaxStartups punishes bursts of handshakes, so concurrency is bounded (default 8).
import type {Transport} from './transport.js'

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
  const results: Connected<T>[] = new Array(items.length)
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

/** Closes every open transport; close failures are ignored since the run is over anyway. */
export async function closeAll(results: ReadonlyArray<{transport?: Transport} | Transport>): Promise<void> {
  const transports = results.map((r) => ('run' in r ? r : r.transport)).filter((t): t is Transport => t !== undefined)
  await Promise.all(transports.map((t) => t.close().catch(() => undefined)))
}

/** The transports of the hosts that connected, by name. */
export function connectedByName<T>(results: readonly Connected<T>[]): Map<string, Transport> {
  return new Map(results.flatMap((r) => (r.transport ? [[r.name, r.transport] as const] : [])))
}
