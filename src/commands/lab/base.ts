// The flags the lab commands share (a module, not a command: no command imports another command).
import * as Flags from '@oclif/core/flags'

import {DEFAULT_DIR, DEFAULT_PREFIX} from '../../lab/index.js'

export const dirFlag = Flags.string({char: 'd', description: 'lab directory (keys, sshd configs, inventory.yaml, lab.json)', default: DEFAULT_DIR})
export const prefixFlag = Flags.string({description: 'prefix of namespace and interface names (bm -> bm-host-1, bm-br0)', default: DEFAULT_PREFIX})
const netDescription = 'the lab on 198.18.NET.0/24, 0-255'

/** How `lab status` and `lab down` pick a lab: the same three flags as `lab up`, without defaults (none given = see the command). */
export const selectionFlags = {
  dir: Flags.string({char: 'd', description: `the lab whose files are in this directory (lab up's --dir; default of lab up: ${DEFAULT_DIR})`}),
  prefix: Flags.string({description: `the lab with this name prefix (lab up's --prefix; default of lab up: ${DEFAULT_PREFIX})`}),
  net: Flags.integer({description: netDescription, min: 0, max: 255}),
}
