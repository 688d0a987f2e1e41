/**
 * Hosts worked on at once by default (apply, doctor, remove, rotate-keys). Per host the controller mostly waits
 * (SSH round trips, wg-quick on the host), and every host has its own sshd: 32 lets a fleet of 16 or 32 go in
 * one wave instead of 2 or 4, while bounding the handshakes this one process runs at a time.
 */
export const DEFAULT_CONCURRENCY = 32

// Run fn over items with at most `limit` in flight; results keep the input order.
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(limit, items.length))}, worker))
  return results
}
