/**
 * The answered verifier keeps the verifier contract (every check it was not
 * told about goes to its fallback), and repeats its one answer only for the
 * very bytes it was given.
 */
import { describe, expect, it } from 'vitest';
import { createAnsweredVerifier } from '#node/crypto/answered-verifier.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { signerFor } from '#test/network.ts';
import { runVerifierContract } from '#test/verifier-contract.ts';

const alice = signerFor('answered verifier alice');
const message = new TextEncoder().encode('checked on the verifier thread');
const signature = await alice.sign(message);
const check = { signature, message, publicKey: alice.publicKey };

runVerifierContract('answered (true) over node:crypto', () =>
  createAnsweredVerifier(check, true, createNodeVerifier()),
);

function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index] = (copy[index] as number) ^ 1;
  return copy;
}

describe('answered verifier', () => {
  it('answers its check as told, even against the fallback, for those bytes in any arrays', () => {
    const verifier = createAnsweredVerifier(check, false, createNodeVerifier());
    expect(verifier.verify(signature, message, alice.publicKey)).toBe(false);
    expect(
      verifier.verify(Uint8Array.from(signature), Uint8Array.from(message), Uint8Array.from(alice.publicKey)),
    ).toBe(false);
    const forged = flipBit(signature, 5);
    const vouched = createAnsweredVerifier({ ...check, signature: forged }, true, createNodeVerifier());
    expect(vouched.verify(forged, message, alice.publicKey)).toBe(true);
  });

  it('asks the fallback about any other bytes', async () => {
    const forged = flipBit(signature, 5);
    const vouched = createAnsweredVerifier({ ...check, signature: forged }, true, createNodeVerifier());
    expect(vouched.verify(flipBit(signature, 6), message, alice.publicKey)).toBe(false);
    expect(vouched.verify(forged, flipBit(message, 0), alice.publicKey)).toBe(false);
    expect(vouched.verify(forged, message, flipBit(alice.publicKey, 0))).toBe(false);
    expect(vouched.verify(forged, message.subarray(1), alice.publicKey)).toBe(false);
    const refused = createAnsweredVerifier(check, false, createNodeVerifier());
    const other = new TextEncoder().encode('another message');
    expect(refused.verify(await alice.sign(other), other, alice.publicKey)).toBe(true);
  });
});
