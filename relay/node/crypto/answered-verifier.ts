/**
 * A verifier that already knows the answer to one check, because it was
 * verified elsewhere (the verifier thread), and asks `fallback` about every
 * other one. It matches on the exact bytes of signature, message and key, so
 * it can only ever repeat an answer given for those very bytes.
 */
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { SignatureCheck } from './signature-batch.ts';

/** `fallback`, except that `check` is answered with `valid`. */
export function createAnsweredVerifier(
  check: SignatureCheck,
  valid: boolean,
  fallback: Ed25519Verifier,
): Ed25519Verifier {
  return {
    verify(signature, message, publicKey) {
      const known =
        sameBytes(signature, check.signature) &&
        sameBytes(message, check.message) &&
        sameBytes(publicKey, check.publicKey);
      return known ? valid : fallback.verify(signature, message, publicKey);
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || a.length !== b.length) return false;
  return a === b || Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
