/** Why the relay refused a task request. */

export type TaskServiceErrorCode =
  'unknown-task' | 'input-mismatch' | 'price-too-low' | 'not-cancellable' | 'forbidden';

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

/** Only the task's requester may cancel it. */
export class ForbiddenError extends TaskServiceError {
  override readonly name = 'ForbiddenError';
  readonly code = 'forbidden';
}
