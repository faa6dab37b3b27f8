/**
 * Why the relay refused a task request. One class per condition, told apart
 * by `name` or `code`, never by message text; none of them knows HTTP (the
 * HTTP layer maps each code to its status, in relay/server/http/errors.ts).
 */

/** Codes of the direct path's refusals (see {@link DirectPathError}). */
export type DirectPathErrorCode =
  | 'not-direct'
  | 'direct-closed'
  | 'already-answered'
  | 'assignment-expired'
  | 'bad-receipt'
  | 'wrong-signer'
  | 'output-mismatch'
  | 'worker-unstaked'
  | 'invalid-fallback'
  | 'forbidden';

/** Every code the task service can report. */
export type TaskServiceErrorCode =
  | 'unknown-task'
  | 'input-mismatch'
  | 'price-too-low'
  | 'not-cancellable'
  | 'not-stoppable'
  | 'too-many-streams'
  | 'forbidden'
  | DirectPathErrorCode;

export abstract class TaskServiceError extends Error {
  abstract readonly code: TaskServiceErrorCode;
}

/** No task with that id on this relay. */
export class UnknownTaskError extends TaskServiceError {
  override readonly name = 'UnknownTaskError';
  readonly code = 'unknown-task';
}

/** The input bytes sent are not the ones the signed task names (hash or size). */
export class InputMismatchError extends TaskServiceError {
  override readonly name = 'InputMismatchError';
  readonly code = 'input-mismatch';
}

/** The task's `maxPrice` is below what the model costs for this input. */
export class PriceTooLowError extends TaskServiceError {
  override readonly name = 'PriceTooLowError';
  readonly code = 'price-too-low';
}

/** The task has started (or ended); it can no longer be cancelled. */
export class NotCancellableError extends TaskServiceError {
  override readonly name = 'NotCancellableError';
  readonly code = 'not-cancellable';
}

/** The task is not a text generation under way (or not yet started): there is nothing to stop. */
export class NotStoppableError extends TaskServiceError {
  override readonly name = 'NotStoppableError';
  readonly code = 'not-stoppable';
}

/** The relay holds as many task streams (`/api/tasks/:id/stream`) as it keeps open at once. */
export class TooManyStreamsError extends TaskServiceError {
  override readonly name = 'TooManyStreamsError';
  readonly code = 'too-many-streams';
}

/** Only the task's requester may cancel it. */
export class ForbiddenError extends TaskServiceError {
  override readonly name = 'ForbiddenError';
  readonly code = 'forbidden';
}

/**
 * A refused receipt or fallback request on the direct path; nothing changed.
 * One class for the path, its `code` saying which refusal (the codes are
 * what the requester's SDK reads).
 */
export class DirectPathError extends TaskServiceError {
  override readonly name = 'DirectPathError';
  readonly code: DirectPathErrorCode;
  constructor(code: DirectPathErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
