// Typed errors (Shopify CLI style): the kind decides the exit code and how the message is shown.

/** Something the user can fix (bad inventory, bad flag, unsafe file mode). Exit code 2. */
export class UserError extends Error {
  readonly exitCode = 2
  constructor(message: string, readonly fix?: string) {
    super(message)
    this.name = 'UserError'
  }
}

/** One problem per field; many of them make one InventoryError. */
export interface FieldIssue {
  path: string
  message: string
  fix: string
}

export class InventoryError extends UserError {
  constructor(readonly file: string, readonly issues: FieldIssue[]) {
    super(
      `${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'} in the inventory:\n` +
        issues.map((i) => `  - ${i.path}: ${i.message}\n    fix: ${i.fix}`).join('\n'),
    )
    this.name = 'InventoryError'
  }
}

/** A command on a host (or locally) failed: names the command, the exit status and stderr. */
export class ExternalCommandError extends Error {
  readonly exitCode = 1
  constructor(readonly where: string, readonly command: string, readonly status: number | null, readonly stderr: string) {
    super(`${where}: \`${command}\` exited with ${status ?? 'a signal'}${stderr.trim() ? `: ${stderr.trim()}` : ''}`)
    this.name = 'ExternalCommandError'
  }
}

/** The SSH side: unknown or changed host key, auth failure, unreachable host. Exit code 1. */
export class ConnectionError extends Error {
  readonly exitCode = 1
  constructor(readonly host: string, message: string, readonly fix?: string) {
    super(`${host}: ${message}`)
    this.name = 'ConnectionError'
  }
}
