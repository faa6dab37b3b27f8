import { AcnError } from '../errors.ts';

/** The bytes are not a valid encoding at all (truncated, bad CBOR, wrong shape). */
export class MalformedEncodingError extends AcnError {
  override readonly name = 'MalformedEncodingError';
  readonly code = 'malformed-encoding';
}

/** The bytes decode, but are not the one canonical encoding of their value. */
export class NonCanonicalEncodingError extends AcnError {
  override readonly name = 'NonCanonicalEncodingError';
  readonly code = 'non-canonical-encoding';
}

/** The input is larger than the cap for its kind. */
export class TooLargeError extends AcnError {
  override readonly name = 'TooLargeError';
  readonly code = 'too-large';
}
