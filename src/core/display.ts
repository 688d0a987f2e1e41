// Text that came from a host (file contents, command output, error messages) or from a local file is not
// ours: printed raw, an ESC sequence in a host's /etc/hosts could recolour, hide or rewrite what the
// operator reads in a plan, or set the terminal's title and clipboard. Everything such is shown escaped.
// Pure.

/**
 * C0 controls (but tab and, when allowed, newline), DEL, C1 controls (U+0080-U+009F: U+009B is a one-byte
 * CSI to some terminals) and the bidirectional overrides that can reorder a line on screen.
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\u001b': '\\e', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\u0000': '\\0'}

const hex = (c: string) => {
  const code = c.codePointAt(0)!
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
}

/** The text with every control character and escape sequence introducer made visible (ESC -> \e). */
export function escapeForTerminal(text: string, opts: {newlines?: boolean} = {}): string {
  return text.replace(UNSAFE, (c) => (c === '\n' && opts.newlines ? c : NAMED[c] ?? hex(c)))
}
