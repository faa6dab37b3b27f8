/**
 * The contract every {@link Signer} keeps, run against each implementation
 * through a setup function (like automerge-repo's `runStorageAdapterTests`):
 * RFC 8032 signatures that every verifier accepts, the RFC 8032 test vectors
 * where the implementation can take a seed, and a public key and account id
 * that agree.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import vectors from '#vectors/ed25519-rfc8032.json';
import {
  accountIdFromPublicKey,
  nobleVerifier,
  parseAccountId,
  publicKeyOfAccount,
  webCryptoVerify,
  type Ed25519Verifier,
  type Signer,
} from '#core/index.ts';
import { hex, unhex } from './network.ts';

export interface SignerHarness {
  /** A signer over a fresh random key. */
  generate(): Promise<Signer>;
  /** A signer over a 32-byte RFC 8032 seed; left out where the implementation cannot take one. */
  readonly fromSeed?: (seed: Uint8Array) => Promise<Signer>;
  /** When given, `fromSeed` refuses a seed that is not 32 bytes with an error of this `name`. */
  readonly badSeedErrorName?: string;
  /** Verifiers that must accept its signatures besides noble's and WebCrypto's (node:crypto's, on the relay). */
  readonly verifiers?: readonly Ed25519Verifier[];
}

const encoder = new TextEncoder();

export function runSignerContract(name: string, setup: () => SignerHarness | Promise<SignerHarness>): void {
  describe(`Signer contract: ${name}`, () => {
    let harness: SignerHarness;
    let signer: Signer;

    beforeAll(async () => {
      harness = await setup();
      signer = await harness.generate();
    });

    /** Every verifier's answer to one check. */
    async function answers(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean[]> {
      return [
        nobleVerifier.verify(signature, message, publicKey),
        await webCryptoVerify(signature, message, publicKey),
        ...(harness.verifiers ?? []).map((verifier) => verifier.verify(signature, message, publicKey)),
      ];
    }

    it('has a 32-byte public key and the account id of that key', () => {
      expect(signer.publicKey).toBeInstanceOf(Uint8Array);
      expect(signer.publicKey).toHaveLength(32);
      expect(signer.accountId).toBe(accountIdFromPublicKey(signer.publicKey));
      expect(parseAccountId(signer.accountId)).toEqual({ ok: true, value: signer.accountId });
      expect(hex(publicKeyOfAccount(signer.accountId))).toBe(hex(signer.publicKey));
    });

    it('gives each fresh signer its own key', async () => {
      const other = await harness.generate();
      expect(hex(other.publicKey)).not.toBe(hex(signer.publicKey));
      expect(other.accountId).not.toBe(signer.accountId);
    });

    it('makes 64-byte signatures that every verifier accepts, of empty, short and long messages', async () => {
      const messages = [new Uint8Array(0), encoder.encode('hello'), new Uint8Array(10_000).map((_, i) => i * 31)];
      for (const message of messages) {
        const signature = await signer.sign(message);
        expect(signature).toBeInstanceOf(Uint8Array);
        expect(signature).toHaveLength(64);
        expect(await answers(signature, message, signer.publicKey)).not.toContain(false);
      }
    });

    it('signs deterministically (RFC 8032): the same message gives the same bytes', async () => {
      const message = encoder.encode('twice');
      expect(hex(await signer.sign(message))).toBe(hex(await signer.sign(message)));
    });

    it('signs only the bytes of a view, not the rest of its buffer', async () => {
      const whole = encoder.encode('[the message]');
      const view = whole.subarray(1, whole.length - 1);
      const signature = await signer.sign(view);
      expect(hex(signature)).toBe(hex(await signer.sign(Uint8Array.from(view))));
      expect(await answers(signature, Uint8Array.from(view), signer.publicKey)).not.toContain(false);
      expect(await answers(signature, whole, signer.publicKey)).not.toContain(true);
    });

    it('makes signatures that no verifier accepts for another message or another key', async () => {
      const message = encoder.encode('signed');
      const signature = await signer.sign(message);
      const other = await harness.generate();
      expect(await answers(signature, encoder.encode('signeD'), signer.publicKey)).not.toContain(true);
      expect(await answers(signature, message, other.publicKey)).not.toContain(true);
    });

    describe('RFC 8032 test vectors', () => {
      for (const v of vectors.valid) {
        it(`reproduces ${v.name} from its seed`, async (context) => {
          if (harness.fromSeed === undefined) return context.skip();
          const fromVector = await harness.fromSeed(unhex(v.secretKey));
          expect(hex(fromVector.publicKey)).toBe(v.publicKey);
          expect(fromVector.accountId).toBe(accountIdFromPublicKey(unhex(v.publicKey)));
          expect(hex(await fromVector.sign(unhex(v.message)))).toBe(v.signature);
          expect(await answers(unhex(v.signature), unhex(v.message), unhex(v.publicKey))).not.toContain(false);
        });
      }

      it('refuses a seed that is not 32 bytes', async (context) => {
        const { fromSeed, badSeedErrorName } = harness;
        if (fromSeed === undefined || badSeedErrorName === undefined) return context.skip();
        for (const length of [0, 31, 33, 64]) {
          const error: unknown = await fromSeed(new Uint8Array(length)).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).name).toBe(badSeedErrorName);
        }
      });
    });
  });
}
