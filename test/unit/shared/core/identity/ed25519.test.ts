import { describe, expect, it } from 'vitest';
import vectors from '#vectors/ed25519-rfc8032.json';
import {
  accountIdFromPublicKey,
  createNobleSigner,
  createWebCryptoSigner,
  generateWebCryptoKeyPair,
  nobleVerifier,
  toBase64Url,
  webCryptoVerify,
} from '#core/index.ts';
import { hex, unhex } from '#test/network.ts';

describe('Ed25519 (RFC 8032 vectors)', () => {
  for (const v of vectors.valid) {
    it(`noble signer reproduces ${v.name}`, async () => {
      const signer = createNobleSigner(unhex(v.secretKey));
      expect(hex(signer.publicKey)).toBe(v.publicKey);
      expect(hex(await signer.sign(unhex(v.message)))).toBe(v.signature);
      expect(nobleVerifier.verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(true);
    });

    it(`WebCrypto signer reproduces ${v.name}`, async () => {
      const jwk = {
        kty: 'OKP',
        crv: 'Ed25519',
        d: toBase64Url(unhex(v.secretKey)),
        x: toBase64Url(unhex(v.publicKey)),
      };
      const privateKey = await crypto.subtle.importKey('jwk', jwk, 'Ed25519', false, ['sign']);
      const publicKey = await crypto.subtle.importKey('raw', unhex(v.publicKey), 'Ed25519', true, ['verify']);
      const signer = await createWebCryptoSigner({ privateKey, publicKey });
      expect(hex(signer.publicKey)).toBe(v.publicKey);
      expect(hex(await signer.sign(unhex(v.message)))).toBe(v.signature);
      expect(await webCryptoVerify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(true);
    });
  }

  for (const v of vectors.invalid) {
    it(`rejects ${v.name}`, async () => {
      expect(nobleVerifier.verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(false);
      expect(await webCryptoVerify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(false);
    });
  }

  it('verify never throws on garbage', () => {
    const junk: unknown[] = [undefined, null, 'abc', 42, {}, [], new Uint8Array(64), new Uint8Array(0)];
    for (const a of junk)
      for (const b of junk)
        for (const c of junk) {
          expect(nobleVerifier.verify(a as Uint8Array, b as Uint8Array, c as Uint8Array)).toBe(false);
        }
  });

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
