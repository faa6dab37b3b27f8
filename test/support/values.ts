/**
 * Helpers for the protocol-core tests: reading values out of JSON vector
 * files, a verifier that accepts every signature (to drive fuzzed input past
 * the signature check into the payload decoders), and result assertions.
 */
import { expect } from 'vitest';
import { AcnError, type Ed25519Verifier, type Result } from '#core/index.ts';
import { unhex } from './network.ts';

/**
 * Turns a JSON vector value into a data-model value: `{"$bytes": "hex"}` is a
 * Uint8Array and `{"$bigint": "digits"}` a bigint; arrays and maps recurse.
 */
export function fromJsonValue(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(fromJsonValue);
  if (typeof json === 'object' && json !== null) {
    const entries = Object.entries(json as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined) {
      const [key, value] = first;
      if (key === '$bytes' && typeof value === 'string') return unhex(value);
      if (key === '$bigint' && typeof value === 'string') return BigInt(value);
    }
    return Object.fromEntries(entries.map(([key, value]) => [key, fromJsonValue(value)]));
  }
  return json;
}

/** Accepts every signature: lets fuzzed envelopes reach payload decoding without re-signing. */
export const acceptAllVerifier: Ed25519Verifier = { verify: () => true };

/** Asserts `result` failed with an error of class `name` and code `code`; returns the error. */
export function expectError(result: Result<unknown>, name: string, code: string): AcnError {
  if (result.ok) return expect.fail(`expected ${name}, got ok`);
  const error = result.error;
  if (!(error instanceof AcnError)) return expect.fail(`expected ${name}, got ${String(error)}`);
  expect({ name: error.name, code: error.code }).toEqual({ name, code });
  return error;
}

/** Error class name of each encoding error code. */
export const ENCODING_ERROR_NAMES: Readonly<Record<string, string>> = {
  'malformed-encoding': 'MalformedEncodingError',
  'non-canonical-encoding': 'NonCanonicalEncodingError',
  'too-large': 'TooLargeError',
};
