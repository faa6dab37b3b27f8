import { AcnError } from '../errors.ts';

/** Model bytes whose SHA-256 is not the id they were fetched or loaded as. */
export class ModelHashMismatchError extends AcnError {
  override readonly name = 'ModelHashMismatchError';
  readonly code = 'model-hash-mismatch';
}

/** A catalogue entry, or a model file offered for the catalogue, is not acceptable. */
export class InvalidModelError extends AcnError {
  override readonly name = 'InvalidModelError';
  readonly code = 'invalid-model';
}

/** The input of a task does not fit the model (wrong shape, too large, undecodable). */
export class InvalidModelInputError extends AcnError {
  override readonly name = 'InvalidModelInputError';
  readonly code = 'invalid-model-input';
}
