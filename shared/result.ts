/**
 * The outcome of an operation that can fail on untrusted input: the value, or a
 * typed error. Decoders, verifiers and the ledger return this instead of
 * throwing, so a caller cannot forget that input may be bad.
 */
export type Result<T, E extends Error = Error> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<E extends Error>(error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error };
}
