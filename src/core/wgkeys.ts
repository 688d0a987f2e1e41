// WireGuard keys with node:crypto: X25519, raw 32 bytes, standard base64 (what `wg genkey`/`wg pubkey` print).
import {createHash, createPrivateKey, createPublicKey, randomBytes} from 'node:crypto'

// PKCS#8 wrapper for a raw X25519 private key (RFC 8410): lets node:crypto derive the public key.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** Clamp as `wg genkey` does, so our private keys are byte-identical in form to wg's. */
function clamp(raw: Buffer): Buffer {
  const k = Buffer.from(raw)
  k[0] &= 248
  k[31] &= 127
  k[31] |= 64
  return k
}

export interface WgKeyPair {
  /** Never log this. */
  privateKey: string
  publicKey: string
}

/**
 * A new key and its public key, as `wg genkey | wg pubkey` give them: 32 bytes from the system's CSPRNG,
 * clamped (what `wg genkey` does), and the public key derived from them.
 *
 * Not `generateKeyPairSync('x25519')` and a JWK export of the result: in Node (seen on 20.20) that export holds
 * the key's mutex while it allocates the JWK's strings, and a garbage collection in that window runs the
 * finalizer of the finished key-generation job, which takes the same mutex. The process then hangs for good,
 * every thread asleep: a 5000-host `mesh init` did, and a loop making 200,000 such keys hung in 4 runs of 6.
 * No key-generation job, no such finalizer; and the cost is the same (one JWK import and export).
 */
export function generateKeyPair(): WgKeyPair {
  const privateKey = clamp(randomBytes(32)).toString('base64')
  return {privateKey, publicKey: publicKeyOf(privateKey)}
}

export function generatePrivateKey(): string {
  return generateKeyPair().privateKey
}

export function isWgKey(s: string): boolean {
  return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(s) && Buffer.from(s, 'base64').length === 32
}

/**
 * Same result as `echo KEY | wg pubkey`. A JWK import of the raw scalar is about 8x cheaper than
 * parsing PKCS#8 DER (OpenSSL's decoder costs ~0.4 ms a key, which adds up over a fleet); the public
 * half a JWK carries is not used for a private key, so an empty one is given.
 */
export function publicKeyOf(privateKeyB64: string): string {
  if (!isWgKey(privateKeyB64)) throw new Error('not a WireGuard private key (32 bytes, base64)')
  const raw = Buffer.from(privateKeyB64, 'base64')
  const key = jwkImportWorks()
    ? createPrivateKey({key: {kty: 'OKP', crv: 'X25519', d: raw.toString('base64url'), x: ''}, format: 'jwk'})
    : createPrivateKey({key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8'})
  return Buffer.from(createPublicKey(key).export({format: 'jwk'}).x as string, 'base64url').toString('base64')
}

// RFC 7748 section 6.1: Alice's private and public key. Checked once, so a Node that reads the JWK
// differently falls back to the DER path instead of giving wrong keys.
const RFC7748_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'
const RFC7748_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'
let jwkOk: boolean | undefined

function jwkImportWorks(): boolean {
  if (jwkOk === undefined) {
    try {
      const d = Buffer.from(RFC7748_PRIVATE, 'hex').toString('base64url')
      const pub = createPublicKey(createPrivateKey({key: {kty: 'OKP', crv: 'X25519', d, x: ''}, format: 'jwk'})).export({format: 'jwk'}).x as string
      jwkOk = Buffer.from(pub, 'base64url').toString('hex') === RFC7748_PUBLIC
    } catch {
      jwkOk = false
    }
  }
  return jwkOk
}

/** Same form as `wg genpsk`: 32 random bytes. */
export function generatePresharedKey(): string {
  return randomBytes(32).toString('base64')
}

/**
 * Binds a private key to its public key, for state.json to cache the derivation: SHA-256 (one-way, so
 * it tells nothing about the private key) over both, truncated to 128 bits.
 */
export function keyCheckOf(privateKeyB64: string, publicKeyB64: string): string {
  return createHash('sha256').update(`beam-mesh key check\n${privateKeyB64}\n${publicKeyB64}\n`).digest('hex').slice(0, 32)
}
