/**
 * Why the relay's inference pool refused or failed a task. One class per
 * condition, told apart by `name` or `code`, never by message text.
 *
 * These extend `Error` rather than the core's `AcnError` because their codes
 * belong to the relay's pool (its queue and worker threads), not to the
 * protocol's `ErrorCode` union in `shared/errors.ts` (the same choice as
 * relay/ledger/errors.ts). Errors of the models themselves keep their shared
 * classes: a bad input is the pipeline's `InvalidModelInputError`, tampered
 * model bytes are `ModelHashMismatchError`, even when raised in a worker thread.
 */

/** Every code the pool itself can report. */
export type InferencePoolErrorCode =
  'pool-busy' | 'unknown-model' | 'worker-crashed' | 'inference-failed' | 'not-running';

/** Base class of the pool's typed errors. */
export abstract class InferencePoolError extends Error {
  abstract readonly code: InferencePoolErrorCode;
}

/** The queue is full: the task was not accepted. Try again later (HTTP 503). */
export class PoolBusyError extends InferencePoolError {
  override readonly name = 'PoolBusyError';
  readonly code = 'pool-busy';
}

/** The model is not in the catalogue, or no pipeline of this relay can run it. */
export class UnknownModelError extends InferencePoolError {
  override readonly name = 'UnknownModelError';
  readonly code = 'unknown-model';
}

/**
 * The worker thread running the task died (an uncaught error, running out of
 * memory, an exit). Only that task fails; the pool replaces the worker.
 */
export class WorkerCrashedError extends InferencePoolError {
  override readonly name = 'WorkerCrashedError';
  readonly code = 'worker-crashed';
}

/**
 * The task failed in its worker for a reason without a typed error of its own
 * (a model file missing, onnxruntime refusing a tensor, a pipeline bug). The
 * message starts with the original error's name.
 */
export class InferenceFailedError extends InferencePoolError {
  override readonly name = 'InferenceFailedError';
  readonly code = 'inference-failed';
}

/** The pool is not started, or is stopping or stopped; tasks still queued or running at `stop()` get this too. */
export class PoolNotRunningError extends InferencePoolError {
  override readonly name = 'PoolNotRunningError';
  readonly code = 'not-running';
}
