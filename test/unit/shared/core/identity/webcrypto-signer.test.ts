/**
 * The WebCrypto signer keeps the Signer contract: over a generated
 * non-extractable key, and over the RFC 8032 seeds imported as JWKs.
 */
import { describe, expect, it } from 'vitest';
import {
  accountIdFromPublicKey,
  createWebCryptoSigner,
  generateWebCryptoKeyPair,
  nobleVerifier,
  toBase64Url,
  type Signer,
} from '#core/index.ts';
import { ed25519 } from '@noble/curves/ed25519.js';
import { runSignerContract } from '#test/signer-contract.ts';

/** A WebCrypto signer over an RFC 8032 seed, its private key imported (non-extractable) as a JWK. */
async function webCryptoSignerFromSeed(seed: Uint8Array): Promise<Signer> {
  const publicKeyBytes = ed25519.getPublicKey(seed);
  const jwk = { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(seed), x: toBase64Url(publicKeyBytes) };
  const privateKey = await crypto.subtle.importKey('jwk', jwk, 'Ed25519', false, ['sign']);
  const publicKey = await crypto.subtle.importKey('raw', publicKeyBytes as Uint8Array<ArrayBuffer>, 'Ed25519', true, [
    'verify',
  ]);
  return createWebCryptoSigner({ privateKey, publicKey });
}

runSignerContract('WebCrypto', () => ({
  async generate() {
    const pair = await generateWebCryptoKeyPair();
    if (pair === undefined) throw new Error('this platform has no WebCrypto Ed25519');
    return createWebCryptoSigner(pair);
  },
  fromSeed: webCryptoSignerFromSeed,
}));

describe('WebCrypto signer', () => {
  it('a non-extractable WebCrypto key signs for the same account id as its public key', async () => {
    const pair = await generateWebCryptoKeyPair();
    expect(pair).toBeDefined();
    if (pair === undefined) return;
    expect(pair.privateKey.extractable).toBe(false);
    const signer = await createWebCryptoSigner(pair);
    expect(signer.accountId).toBe(accountIdFromPublicKey(signer.publicKey));
    const message = new TextEncoder().encode('hello');
    expect(nobleVerifier.verify(await signer.sign(message), message, signer.publicKey)).toBe(true);
  });
});
