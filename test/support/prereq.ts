// Skipping for a missing prerequisite (root, a program): loud outside CI, and never under $CI, where every
// package is installed and a skip would hide a test that no longer runs. There it is a failure at once.
export function skipUnless(ok: boolean, why: string): false | string {
  if (ok) return false
  if (process.env.CI) throw new Error(`CI: ${why}: under CI every test must run (CI installs every prerequisite and runs as root)`)
  console.error(`# SKIPPED: ${why}`)
  return `SKIPPED: ${why}`
}

export const isRoot = process.getuid?.() === 0
