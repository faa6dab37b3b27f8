/**
 * Who signs. One interface, two implementations: WebCrypto Ed25519 where the
 * platform has it (a non-extractable key that can live in IndexedDB), here,
 * and `@noble/curves` everywhere (./signer.ts). Both produce RFC 8032
 * signatures that any verifier accepts. This module does not import noble, so
 * an app that signs with WebCrypto never loads it.
 */
import { accountIdFromPublicKey, type AccountId } from './ids.ts';

export interface Signer {
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The account id (PeerId) of `publicKey`. */
  readonly accountId: AccountId;
  /** Signs `message` and returns the 64-byte signature. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A WebCrypto Ed25519 key pair (the same shape as the DOM's `CryptoKeyPair`). */
export interface WebCryptoKeyPair {
  readonly publicKey: PlatformCryptoKey;
  readonly privateKey: PlatformCryptoKey;
}
// Node's and the DOM's typings name CryptoKey differently; both take it here.
type PlatformCryptoKey = Parameters<typeof crypto.subtle.sign>[1];

export const ED25519_SECRET_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** A signer over a WebCrypto Ed25519 key pair (the private key may be non-extractable). */
export async function createWebCryptoSigner(keyPair: WebCryptoKeyPair): Promise<Signer> {
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', keyPair.publicKey));
  return {
    publicKey,
    accountId: accountIdFromPublicKey(publicKey),
    sign: async (message) =>
      new Uint8Array(await crypto.subtle.sign('Ed25519', keyPair.privateKey, message as Uint8Array<ArrayBuffer>)),
  };
}

/**
 * Generates a WebCrypto Ed25519 key pair whose private key cannot be exported,
 * or returns undefined where the platform has no WebCrypto Ed25519.
 */
export async function generateWebCryptoKeyPair(): Promise<WebCryptoKeyPair | undefined> {
  try {
    const generated = await crypto.subtle.generateKey('Ed25519', false, ['sign', 'verify']);
    return 'privateKey' in generated ? generated : undefined;
  } catch {
    return undefined;
  }
}
