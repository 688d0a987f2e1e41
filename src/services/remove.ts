// `mesh remove <host>`: deletes the host from the inventory file, after which `mesh apply` prunes it from
// every peer and tears it down. Editing the user's YAML is done with the yaml Document API, which keeps
// comments, order and formatting of everything else: refusing and asking the user to edit the file by hand
// would leave the command nothing to do that `mesh apply` does not already do.
import {statSync} from 'node:fs'
import {parseDocument, isMap, isSeq} from 'yaml'

import {UserError} from '../core/errors.js'
import {readInventoryText} from './mesh.js'
import {StateStore, defaultStateDir, writeIfChanged} from '../state/store.js'

export interface RemovalCheck {
  /** The name as spelled in the inventory or state. */
  name: string
  /** Still in the inventory file (it will be deleted from it). */
  inInventory: boolean
}

function hostIndex(inventoryFile: string, host: string) {
  const text = readInventoryText(inventoryFile)
  const doc = parseDocument(text)
  if (doc.errors.length) throw new UserError(`${inventoryFile} is not valid YAML: ${doc.errors[0].message}`, 'fix the file first')
  const hosts = doc.get('hosts')
  if (!isSeq(hosts)) throw new UserError(`${inventoryFile} has no hosts: list`, 'check the inventory')
  const names = hosts.items.map((it) => (isMap(it) ? String((it.get('name') as string | undefined) ?? '') : ''))
  const exact = names.indexOf(host)
  const loose = names.filter((n) => n.toLowerCase() === host.toLowerCase())
  const index = exact >= 0 ? exact : loose.length === 1 ? names.indexOf(loose[0]) : -1
  return {doc, index, name: index >= 0 ? names[index] : host}
}

/** Where the host is: in the inventory, or archived with a teardown still pending. Throws when neither. */
export function checkRemoval(inventoryFile: string, host: string, stateDir?: string): RemovalCheck {
  const found = hostIndex(inventoryFile, host)
  if (found.index >= 0) return {name: found.name, inInventory: true}
  const store = new StateStore(stateDir ?? defaultStateDir(inventoryFile))
  const archived = store.load().archived.find((a) => a.name.toLowerCase() === host.toLowerCase())
  if (archived?.teardownPending) return {name: archived.name, inInventory: false}
  if (archived) throw new UserError(`${archived.name} was removed and torn down already`, 'nothing to do')
  throw new UserError(`${host} is neither in ${inventoryFile} nor among removed hosts`, 'check the name')
}

/** Deletes the host's entry from the hosts: list, keeping every comment and the file's mode. */
export function removeFromInventory(inventoryFile: string, host: string): void {
  const {doc, index} = hostIndex(inventoryFile, host)
  if (index < 0) return
  doc.deleteIn(['hosts', index])
  writeIfChanged(inventoryFile, doc.toString(), statSync(inventoryFile).mode & 0o777)
}
