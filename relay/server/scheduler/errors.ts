/**
 * Why brokering a task to a worker failed. These extend `Error` rather than
 * the core's `AcnError` because their codes belong to the relay's scheduler,
 * not to the protocol's `ErrorCode` union (the same choice as relay/node/pool).
 */

/**
 * - `timeout`: no answer within the deadline;
 * - `bad-receipt`: an answer that is malformed, or whose receipt is not the
 *   worker's signature over this task, this model and this output;
 * - `error`: the worker answered with an error;
 * - `unreachable`: no stream could be opened to the worker.
 */
export type WorkerFailureReason = 'timeout' | 'bad-receipt' | 'error' | 'unreachable';

/** The worker did not deliver a verified result. The task may be retried elsewhere. */
export class WorkerFailedError extends Error {
  override readonly name = 'WorkerFailedError';
  readonly code = 'worker-failed';
  readonly reason: WorkerFailureReason;
  /** The worker's account id. */
  readonly worker: string;
  /** The worker's own error code, when it answered with one. */
  readonly workerCode: string | undefined;

  constructor(
    reason: WorkerFailureReason,
    worker: string,
    message: string,
    options: { cause?: unknown; workerCode?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.worker = worker;
    this.workerCode = options.workerCode;
  }
}

/** The dispatch was cancelled by the caller's signal. */
export class DispatchAbortedError extends Error {
  override readonly name = 'DispatchAbortedError';
  readonly code = 'dispatch-aborted';
}

/**
 * The requester stopped the task before the worker made anything (it was
 * still waiting for a slot): there is no result, and it is not the worker's fault.
 */
export class DispatchStoppedError extends Error {
  override readonly name = 'DispatchStoppedError';
  readonly code = 'stopped';
}
