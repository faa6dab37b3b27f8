import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createNobleSigner, nobleVerifier } from '#core/index.ts';
import { runVerifierContract } from '#test/verifier-contract.ts';

const nodeVerifier = createNodeVerifier({ cacheSize: 4 });

// The RFC 8032 vectors, bad signatures, wrong keys and lengths, random bytes and junk that must not throw.
runVerifierContract('node:crypto', () => nodeVerifier);
runVerifierContract('node:crypto with a cache of one key', () => createNodeVerifier({ cacheSize: 1 }));

describe('node:crypto verifier', () => {
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
});
