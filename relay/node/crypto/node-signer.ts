/**
 * Ed25519 signing with Node's OpenSSL: the same `Signer` as the noble one
 * (RFC 8032 signatures are deterministic, so both give identical bytes) but
 * several times faster, which matters for the relay that signs every block
 * and receipt acknowledgement.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { accountIdFromPublicKey } from '#core/identity/ids.ts';
import { ED25519_SECRET_KEY_BYTES, type Signer } from '#core/identity/signer.ts';

// DER PKCS#8 header for an Ed25519 private key (RFC 8410); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX_BYTES = 12;

/** A node:crypto signer over a raw 32-byte Ed25519 secret key (the RFC 8032 seed). */
export function createNodeSigner(secretKey: Uint8Array): Signer {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== ED25519_SECRET_KEY_BYTES) {
    throw new TypeError(`secretKey must be ${ED25519_SECRET_KEY_BYTES} bytes`);
  }
  const privateKey: KeyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, secretKey]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX_BYTES));
  return {
    publicKey,
    accountId: accountIdFromPublicKey(publicKey),
    sign: (message) => Promise.resolve(new Uint8Array(sign(null, message, privateKey))),
  };
}
