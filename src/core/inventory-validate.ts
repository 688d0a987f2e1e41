// Every problem of an inventory in one run, whatever its kind: character checks, the schema, and the
// cross-field checks (duplicate names, addresses, ...). A schema failure must not hide the cross-field
// problems of the parts that are fine, so those checks run on what can be salvaged: unknown keys dropped,
// an invalid optional section replaced by its defaults, an invalid host left out (the other hosts keep
// their indices in the messages). Pure.
// A namespace import, so the build keeps only the zod it uses ({z} would bundle every locale, ~290 KB).
import * as z from 'zod'

import {FieldIssue} from './errors.js'
import {describePath, fixFor} from './inventory-messages.js'

type Path = (string | number)[]
/** A cross-field check: any module can add one to the list parseInventory runs. */
export type InventoryCheck<T> = (inv: T) => FieldIssue[]

export interface ValidateOptions<T> {
  schema: z.ZodType<T>
  hostSchema: z.ZodType
  /** Top-level keys whose schema has a default: an invalid one is replaced by it for the cross-field checks. */
  optionalSections: string[]
  checks: InventoryCheck<T>[]
  /** Issues found before the schema (character checks); a schema issue on the same field is then left out. */
  earlier: FieldIssue[]
}

const isObject = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v)

function fieldIssues(error: z.ZodError, raw: unknown): FieldIssue[] {
  return error.issues.flatMap((i) =>
    // zod reports unknown keys at their parent; name each key's own path instead.
    (i.code === 'unrecognized_keys' ? i.keys.map((k) => ({path: [...i.path, k], message: `unknown key "${k}"`})) : [i]).map((j) => ({
      path: describePath(j.path as Path, raw),
      message: j.message,
      fix: fixFor(j.path as Path, j.message),
    })),
  )
}

function dropUnknownKeys(error: z.ZodError, root: unknown): void {
  for (const i of error.issues) {
    if (i.code !== 'unrecognized_keys') continue
    const parent = (i.path as Path).reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], root)
    if (isObject(parent)) for (const k of i.keys) delete parent[k]
  }
}

/** `hosts[j]` of the salvaged list -> `hosts[i]` of the file, in a path or a message. */
const remapHosts = (text: string, index: number[]) => text.replace(/hosts\[(\d+)\]/g, (m, j: string) => (index[Number(j)] === undefined ? m : `hosts[${index[Number(j)]}]`))

interface Salvaged<T> {
  inv: T
  /** index[j] = the file's index of the salvaged hosts[j] */
  index: number[]
  /** Fields left out ("network.ipv4"): a cross-field finding about them, or about their section, would be a guess. */
  dropped: string[]
}

function salvage<T>(raw: Record<string, unknown>, o: ValidateOptions<T>): Salvaged<T> | null {
  const copy = structuredClone(raw)
  const first = o.schema.safeParse(copy)
  if (!first.success) dropUnknownKeys(first.error, copy)
  const dropped: string[] = []
  const second = o.schema.safeParse(copy)
  if (!second.success) {
    for (const i of second.error.issues) {
      const [section, field] = i.path
      // An invalid field of a section (network.listenPort): left out, so the section's defaults apply.
      if (i.path.length === 2 && typeof field === 'string' && isObject(copy[section as string])) {
        delete (copy[section as string] as Record<string, unknown>)[field]
        dropped.push(`${String(section)}.${field}`)
      }
    }
    const third = o.schema.safeParse(copy)
    if (!third.success) for (const key of o.optionalSections) if (third.error.issues.some((i) => i.path[0] === key)) delete copy[key]
  }
  const index: number[] = []
  const hosts: unknown = copy.hosts
  if (Array.isArray(hosts)) {
    const kept = hosts.filter((h: unknown, i: number) => {
      const ok = o.hostSchema.safeParse(h).success
      if (ok) index.push(i)
      return ok
    })
    if (kept.length === 0) return null
    copy.hosts = kept
  }
  const parsed = o.schema.safeParse(copy)
  return parsed.success ? {inv: parsed.data, index, dropped} : null
}

/** The valid inventory and no issues, or every issue that can be found in one pass. */
export function validateInventory<T>(raw: Record<string, unknown>, o: ValidateOptions<T>): {inv: T | null; issues: FieldIssue[]} {
  const result = o.schema.safeParse(raw)
  if (result.success && !o.earlier.length) {
    const issues = o.checks.flatMap((c) => c(result.data))
    return {inv: issues.length ? null : result.data, issues}
  }
  const seen = new Set(o.earlier.map((i) => i.path))
  const schemaIssues = result.success ? [] : fieldIssues(result.error, raw).filter((i) => !seen.has(i.path))
  const rescued: Salvaged<T> | null = result.success ? {inv: result.data, index: [], dropped: []} : salvage(raw, o)
  const guess = (i: FieldIssue) => rescued!.dropped.some((d) => i.path === d.split('.')[0] || `${i.path} ${i.message}`.includes(d))
  const cross = rescued ? o.checks.flatMap((c) => c(rescued.inv)).filter((i) => !guess(i)) : []
  const remapped = result.success ? cross : cross.map((i) => ({...i, path: remapHosts(i.path, rescued!.index), message: remapHosts(i.message, rescued!.index)}))
  return {inv: null, issues: [...o.earlier, ...schemaIssues, ...remapped]}
}
