/**
 * Who signs: `@noble/curves` everywhere, and WebCrypto Ed25519 where the
 * platform has it (./webcrypto-signer.ts, re-exported here). Both produce
 * RFC 8032 signatures that any verifier accepts.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { accountIdFromPublicKey } from './ids.ts';
import { ED25519_SECRET_KEY_BYTES, type Signer } from './webcrypto-signer.ts';

export * from './webcrypto-signer.ts';

/** A signer over a raw 32-byte Ed25519 secret key (the RFC 8032 seed). */
export function createNobleSigner(secretKey: Uint8Array): Signer & { readonly secretKey: Uint8Array } {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== ED25519_SECRET_KEY_BYTES) {
    throw new TypeError(`secretKey must be ${ED25519_SECRET_KEY_BYTES} bytes`);
  }
  const publicKey = ed25519.getPublicKey(secretKey);
  return {
    secretKey,
    publicKey,
    accountId: accountIdFromPublicKey(publicKey),
    sign: (message) => Promise.resolve(ed25519.sign(message, secretKey)),
  };
}

/** A fresh random noble signer. */
export function generateNobleSigner(): Signer & { readonly secretKey: Uint8Array } {
  return createNobleSigner(ed25519.utils.randomSecretKey());
}
