// Which inventory a command works on when -i is not given. Commands that touch hosts or edit the inventory
// never fall back to the bundled example (`mesh remove Host-B --yes` must not edit a file nobody chose);
// only `init`, which is offline and writes nothing outside its state and output folders, does.
import {existsSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {UserError} from '../core/errors.js'
import {packageRoot} from '../package-root.js'

/** The example shipped with the package, found from the package's root, not from the current directory. */
export const EXAMPLE_INVENTORY = join(packageRoot(), 'inventory', 'example.yaml')
export const INVENTORY_ENV = 'MESH_INVENTORY'
export const CWD_INVENTORY = 'mesh.yaml'

export type InventorySource = 'flag' | 'env' | 'cwd' | 'example'

export interface ResolvedInventory {
  file: string
  source: InventorySource
}

/** -i, else $MESH_INVENTORY, else ./mesh.yaml; null when none of them names a file. */
export function findInventory(flag: string | undefined, env = process.env, cwd = process.cwd()): ResolvedInventory | null {
  if (flag) return {file: flag, source: 'flag'}
  const fromEnv = env[INVENTORY_ENV]
  if (fromEnv) return {file: fromEnv, source: 'env'}
  const local = resolve(cwd, CWD_INVENTORY)
  return existsSync(local) ? {file: local, source: 'cwd'} : null
}

/** For plan, apply, doctor, remove and rotate-keys: no inventory named anywhere is exit 2 with the ways to name one. */
export function requireInventory(flag: string | undefined, env = process.env, cwd = process.cwd()): string {
  const found = findInventory(flag, env, cwd)
  if (found) return found.file
  throw new UserError(
    `no inventory: no -i, no $${INVENTORY_ENV}, and no ${CWD_INVENTORY} in ${cwd}`,
    `pass -i FILE, set ${INVENTORY_ENV}=FILE, or create ${CWD_INVENTORY} here (start from the example: cp ${EXAMPLE_INVENTORY} ${CWD_INVENTORY}, then edit its hosts)`,
  )
}

/** For init: the same search, then the bundled example, so `mesh init` works offline from any directory. */
export function initInventory(flag: string | undefined, env = process.env, cwd = process.cwd()): ResolvedInventory {
  return findInventory(flag, env, cwd) ?? {file: EXAMPLE_INVENTORY, source: 'example'}
}
