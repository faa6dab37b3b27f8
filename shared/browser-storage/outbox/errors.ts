/** Errors of the offline outbox. They stay on the device; callers tell them apart by `name` or `code`. */

export type OutboxErrorCode = 'outbox-input-mismatch';

/** Base class of the outbox's errors. */
export abstract class OutboxError extends Error {
  abstract readonly code: OutboxErrorCode;
}

/** The input bytes are not the ones the signed task names (hash or size): the relay would refuse it for good. */
export class OutboxInputMismatchError extends OutboxError {
  override readonly name = 'OutboxInputMismatchError';
  readonly code = 'outbox-input-mismatch';
}
