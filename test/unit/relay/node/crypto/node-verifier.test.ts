import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createNobleSigner, nobleVerifier } from '#core/index.ts';
import vectors from '#vectors/ed25519-rfc8032.json';
import { unhex } from '#test/network.ts';

const nodeVerifier = createNodeVerifier({ cacheSize: 4 });

describe('node:crypto verifier', () => {
  it('accepts every RFC 8032 vector and rejects every invalid one', () => {
    for (const v of vectors.valid) {
      expect(nodeVerifier.verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(true);
    }
    for (const v of vectors.invalid) {
      expect(nodeVerifier.verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(false);
    }
  });

  it('agrees with noble on valid and corrupted signatures (and survives cache eviction)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat({ max: 64 + 32 + 199 }),
        async (secret, message, flip) => {
          const signer = createNobleSigner(secret);
          const signature = await signer.sign(message);
          expect(nodeVerifier.verify(signature, message, signer.publicKey)).toBe(true);
          // Corrupt one bit somewhere in signature, key or message.
          const sig = signature.slice();
          const key = signer.publicKey.slice();
          const msg = message.slice();
          if (flip < 64) sig[flip] = (sig[flip] as number) ^ 1;
          else if (flip < 96) key[flip - 64] = (key[flip - 64] as number) ^ 1;
          else if (message.length > 0)
            msg[(flip - 96) % message.length] = (msg[(flip - 96) % message.length] as number) ^ 1;
          else sig[0] = (sig[0] as number) ^ 1;
          expect(nodeVerifier.verify(sig, msg, key)).toBe(nobleVerifier.verify(sig, msg, key));
          expect(nodeVerifier.verify(sig, msg, key)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never throws on malformed input', () => {
    const junk: unknown[] = [undefined, null, 'x', 1, {}, new Uint8Array(0), new Uint8Array(31), new Uint8Array(64)];
    for (const a of junk)
      for (const b of junk)
        for (const c of junk) {
          expect(nodeVerifier.verify(a as Uint8Array, b as Uint8Array, c as Uint8Array)).toBe(false);
        }
  });
});
