/**
 * Who verifies. Verification is synchronous and never throws: a malformed key
 * or signature is simply "not valid". The relay plugs in `node:crypto`
 * (about 12x faster); everywhere else uses noble.
 *
 * Both follow RFC 8032's strict rules (canonical S, canonical point
 * encodings), so a signature valid on the relay is valid on a phone and the
 * other way round; noble's looser ZIP-215 mode is switched off for that reason.
 */
import { ed25519 } from '@noble/curves/ed25519.js';

export interface Ed25519Verifier {
  /** True only for a valid RFC 8032 signature of `message` by `publicKey`. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

export const nobleVerifier: Ed25519Verifier = {
  verify(signature, message, publicKey) {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
    if (!(message instanceof Uint8Array)) return false;
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};

/** WebCrypto verification (async), for platforms that have Ed25519 in `crypto.subtle`. Never throws. */
export async function webCryptoVerify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): Promise<boolean> {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(message instanceof Uint8Array)) return false;
  try {
    const key = await crypto.subtle.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, 'Ed25519', false, [
      'verify',
    ]);
    return await crypto.subtle.verify(
      'Ed25519',
      key,
      signature as Uint8Array<ArrayBuffer>,
      message as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false;
  }
}
