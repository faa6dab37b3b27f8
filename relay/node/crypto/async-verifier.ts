/**
 * A verifier that can also check signatures off the calling thread (the
 * relay's verifier thread), so the event loop is not blocked by the ~0.12 ms
 * an Ed25519 verification costs. Its synchronous `verify` still works, on the
 * calling thread, for callers that need an answer at once.
 */
import type { Ed25519Verifier } from '#core/identity/verifier.ts';

export interface AsyncVerifyOptions {
  /** Rejects the returned promise with the signal's reason once aborted. */
  readonly signal?: AbortSignal;
}

export interface AsyncEd25519Verifier extends Ed25519Verifier {
  /**
   * The same answer as `verify`, computed elsewhere. Resolves false for a
   * malformed key or signature and never rejects unless `signal` is aborted.
   * The arrays must not change until it settles.
   */
  verifyAsync(
    signature: Uint8Array,
    message: Uint8Array,
    publicKey: Uint8Array,
    options?: AsyncVerifyOptions,
  ): Promise<boolean>;
}

/** True when `verifier` can verify off the calling thread. */
export function isAsyncVerifier(verifier: Ed25519Verifier): verifier is AsyncEd25519Verifier {
  return typeof (verifier as Partial<AsyncEd25519Verifier>).verifyAsync === 'function';
}
