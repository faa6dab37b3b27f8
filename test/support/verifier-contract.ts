/**
 * The contract every Ed25519 verifier keeps, run against each implementation
 * through a setup function (like automerge-repo's `runStorageAdapterTests`):
 * it accepts valid RFC 8032 signatures and answers false, never throwing or
 * rejecting, to a bad signature, a wrong key, wrong lengths, random bytes and
 * values that are not bytes at all. Synchronous and asynchronous verifiers
 * both run it: the harness's `verify` may return a promise.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import vectors from '#vectors/ed25519-rfc8032.json';
import { createNobleSigner } from '#core/index.ts';
import { unhex } from './network.ts';

export interface VerifierHarness {
  /** The implementation's answer to one check (a synchronous one returns it as is). */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean | Promise<boolean>;
  /** Releases what setup started (a thread). Default: nothing. */
  teardown?(): Promise<void>;
}

const encoder = new TextEncoder();
const alice = createNobleSigner(unhex('a1'.repeat(32)));
const bob = createNobleSigner(unhex('b0'.repeat(32)));

/** Values that are not a signature, message or key; none may make a verifier throw. */
const JUNK: readonly unknown[] = [
  undefined,
  null,
  'x',
  'abc',
  1,
  42,
  {},
  [],
  new Uint8Array(0),
  new Uint8Array(31),
  new Uint8Array(64),
];

function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index] = (copy[index] as number) ^ 1;
  return copy;
}

export function runVerifierContract(name: string, setup: () => VerifierHarness | Promise<VerifierHarness>): void {
  describe(`Ed25519 verifier contract: ${name}`, () => {
    let harness: VerifierHarness;
    beforeAll(async () => {
      harness = await setup();
    });
    afterAll(async () => {
      await harness.teardown?.();
    });

    /** The answer, which must be a boolean (a throw or a rejection fails the test). */
    async function verify(signature: unknown, message: unknown, publicKey: unknown): Promise<boolean> {
      const answer = await harness.verify(signature as Uint8Array, message as Uint8Array, publicKey as Uint8Array);
      expect(typeof answer).toBe('boolean');
      return answer;
    }

    for (const v of vectors.valid) {
      it(`accepts RFC 8032 ${v.name}`, async () => {
        expect(await verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(true);
      });
    }

    for (const v of vectors.invalid) {
      it(`rejects ${v.name}`, async () => {
        expect(await verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).toBe(false);
      });
    }

    it('accepts fresh signatures of empty, short, long and viewed messages', async () => {
      const whole = encoder.encode('[a message inside a larger buffer]');
      const messages = [
        new Uint8Array(0),
        encoder.encode('hello'),
        new Uint8Array(10_000).map((_, i) => i * 7),
        whole.subarray(1, whole.length - 1),
      ];
      for (const message of messages) {
        expect(await verify(await alice.sign(message), message, alice.publicKey)).toBe(true);
      }
    });

    it('rejects a signature with any one bit flipped, in signature, message or key', async () => {
      const message = encoder.encode('flip me');
      const signature = await alice.sign(message);
      for (const index of [0, 1, 31, 32, 33, 62, 63]) {
        expect(await verify(flipBit(signature, index), message, alice.publicKey)).toBe(false);
      }
      for (const index of [0, 3, message.length - 1]) {
        expect(await verify(signature, flipBit(message, index), alice.publicKey)).toBe(false);
      }
      for (const index of [0, 15, 31]) {
        expect(await verify(signature, message, flipBit(alice.publicKey, index))).toBe(false);
      }
    });

    it('rejects a signature checked against a wrong key or a changed message length', async () => {
      const message = encoder.encode('signed by alice');
      const signature = await alice.sign(message);
      expect(await verify(signature, message, bob.publicKey)).toBe(false);
      expect(await verify(signature, message.subarray(0, -1), alice.publicKey)).toBe(false);
      expect(await verify(signature, Uint8Array.of(...message, 0), alice.publicKey)).toBe(false);
      expect(await verify(signature, new Uint8Array(0), alice.publicKey)).toBe(false);
    });

    it('rejects signatures and keys of the wrong length, even around a valid one', async () => {
      const message = encoder.encode('lengths');
      const signature = await alice.sign(message);
      for (const length of [0, 1, 32, 63, 65, 128]) {
        const wrong = new Uint8Array(length);
        wrong.set(signature.subarray(0, Math.min(length, 64)));
        expect(await verify(wrong, message, alice.publicKey)).toBe(false);
      }
      for (const length of [0, 1, 31, 33, 64]) {
        const wrong = new Uint8Array(length);
        wrong.set(alice.publicKey.subarray(0, Math.min(length, 32)));
        expect(await verify(signature, message, wrong)).toBe(false);
      }
    });

    it('rejects random bytes (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 80 })),
          fc.uint8Array({ maxLength: 100 }),
          fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 })),
          async (signature, message, publicKey) => {
            expect(await verify(signature, message, publicKey)).toBe(false);
          },
        ),
        { numRuns: 100 },
      );
    });

    it('answers false, never throwing, for values that are not bytes', async () => {
      for (const a of JUNK)
        for (const b of JUNK)
          for (const c of JUNK) {
            expect(await verify(a, b, c)).toBe(false);
          }
    });
  });
}
