import { AcnError } from '../errors.ts';

/** A string is not a well-formed id of the expected kind. */
export class InvalidIdError extends AcnError {
  override readonly name = 'InvalidIdError';
  readonly code = 'invalid-id';
}
