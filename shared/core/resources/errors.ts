import { AcnError } from '../errors.ts';

/** A resource allocation is outside the ranges a contributor may choose. */
export class InvalidAllocationError extends AcnError {
  override readonly name = 'InvalidAllocationError';
  readonly code = 'invalid-allocation';
}
