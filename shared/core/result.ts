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

/** The value of a Result, or its typed error thrown: for callers whose errors are answered in one place (the relay's HTTP layer). */
export function unwrap<T, E extends Error>(result: Result<T, E>): T {
  if (!result.ok) throw result.error;
  return result.value;
}
