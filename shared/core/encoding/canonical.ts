/**
 * Canonical encoding: DAG-CBOR (the IPLD profile of CBOR, RFC 8949 §4.2
 * deterministic encoding with length-first map key order).
 *
 * Why DAG-CBOR rather than RFC 8785 JSON: signed payloads carry raw bytes
 * (hashes, public keys, nested signed envelopes) and DAG-CBOR stores them as
 * bytes instead of base64 text; its strict decoder refuses indefinite lengths,
 * duplicate keys, NaN and non-minimal integers, so "one value, one encoding"
 * is enforced on the way in as well as on the way out; and it is the format
 * the libp2p/IPLD stack we already ship speaks.
 */
import * as dagCbor from '@ipld/dag-cbor';
import { err, ok, type Result } from '../result.ts';
import { equalBytes } from './bytes.ts';
import { MalformedEncodingError, NonCanonicalEncodingError, TooLargeError } from './errors.ts';

/** The largest encoded value `decodeCanonical` accepts unless told otherwise: 1 MiB. */
export const MAX_CANONICAL_BYTES = 1024 * 1024;

/** Encodes a value deterministically. Throws on values the data model cannot hold (undefined, NaN, functions). */
export function encodeCanonical(value: unknown): Uint8Array {
  const bytes = dagCbor.encode(value);
  // In Node, cborg sometimes returns a Buffer, whose slice() is a view rather
  // than a copy; hand out a plain Uint8Array (same memory) on every platform.
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export interface DecodeCanonicalOptions {
  /** Refuse inputs longer than this many bytes. Default {@link MAX_CANONICAL_BYTES}. */
  readonly maxBytes?: number;
}

export type CanonicalDecodeError = MalformedEncodingError | NonCanonicalEncodingError | TooLargeError;

/**
 * Decodes bytes that must be the canonical encoding of their value: the value
 * is re-encoded and compared, so two different byte strings never decode to
 * the same signed value. Never throws.
 */
export function decodeCanonical(
  bytes: Uint8Array,
  options: DecodeCanonicalOptions = {},
): Result<unknown, CanonicalDecodeError> {
  const maxBytes = options.maxBytes ?? MAX_CANONICAL_BYTES;
  if (!(bytes instanceof Uint8Array)) return err(new MalformedEncodingError('expected bytes'));
  if (bytes.length > maxBytes) {
    return err(new TooLargeError(`encoded value is ${bytes.length} bytes, the cap is ${maxBytes}`));
  }
  let value: unknown;
  try {
    value = dagCbor.decode(bytes);
  } catch (cause) {
    return err(new MalformedEncodingError(`not valid DAG-CBOR: ${describe(cause)}`));
  }
  let again: Uint8Array;
  try {
    again = dagCbor.encode(value);
  } catch (cause) {
    return err(new NonCanonicalEncodingError(`value cannot be re-encoded: ${describe(cause)}`));
  }
  if (!equalBytes(again, bytes)) return err(new NonCanonicalEncodingError('bytes are not the canonical encoding'));
  return ok(value);
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
