// WireGuard keys with node:crypto: X25519, raw 32 bytes, standard base64 (what `wg genkey`/`wg pubkey` print).
import {createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes} from 'node:crypto'

// PKCS#8 wrapper for a raw X25519 private key (RFC 8410): lets node:crypto derive the public key.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

const fromB64url = (s: string) => Buffer.from(s, 'base64url')

/** Clamp as `wg genkey` does, so our private keys are byte-identical in form to wg's. */
function clamp(raw: Buffer): Buffer {
  const k = Buffer.from(raw)
  k[0] &= 248
  k[31] &= 127
  k[31] |= 64
  return k
}

export function generatePrivateKey(): string {
  const {privateKey} = generateKeyPairSync('x25519')
  const d = fromB64url(privateKey.export({format: 'jwk'}).d as string)
  return clamp(d).toString('base64')
}

export function isWgKey(s: string): boolean {
  return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(s) && Buffer.from(s, 'base64').length === 32
}

/** Same result as `echo KEY | wg pubkey`. */
export function publicKeyOf(privateKeyB64: string): string {
  if (!isWgKey(privateKeyB64)) throw new Error('not a WireGuard private key (32 bytes, base64)')
  const der = Buffer.concat([PKCS8_X25519_PREFIX, Buffer.from(privateKeyB64, 'base64')])
  const pub = createPublicKey(createPrivateKey({key: der, format: 'der', type: 'pkcs8'}))
  return Buffer.from(pub.export({format: 'jwk'}).x as string, 'base64url').toString('base64')
}

/** Same form as `wg genpsk`: 32 random bytes. */
export function generatePresharedKey(): string {
  return randomBytes(32).toString('base64')
}
