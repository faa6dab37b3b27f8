/**
 * Why a desktop worker (Node or browser) refuses a task. One class per
 * condition, told apart by `name`; `code` is what the task's sender is told in
 * the answer `{ error: { code, message } }`. They extend `Error` rather than
 * the core's `AcnError` because these codes belong to the worker protocol,
 * not to the ledger's `ErrorCode` union.
 */

/** Codes a refused task carries on the wire, from either kind of worker. */
export type TaskRefusalCode =
  | 'invalid-task'
  | 'wrong-network'
  | 'unauthorized'
  | 'input-mismatch'
  | 'unknown-model'
  | 'paused'
  | 'busy'
  | 'inference-failed'
  /** The requester stopped the task before it made anything (it was waiting for a slot). */
  | 'stopped';

/** A task this worker will not (or could not) run; the relay runs it elsewhere. */
export class TaskRefusedError extends Error {
  override readonly name = 'TaskRefusedError';
  readonly code: TaskRefusalCode;
  constructor(code: TaskRefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Every task slot stayed taken (or resting to keep the CPU share) for the
 * whole wait. A worker whose wire code for this differs passes its own error
 * to `createTaskSlots` (`busyError`).
 */
export class TaskSlotsBusyError extends Error {
  override readonly name = 'TaskSlotsBusyError';
  readonly code = 'busy';
}

/** `start()` was called on a session that is not idle: a session runs once. */
export class WorkerSessionStartedError extends Error {
  override readonly name = 'WorkerSessionStartedError';
  readonly code = 'already-started';
}

/** The session is stopping: why the running tasks and the connection attempts were aborted. */
export class WorkerSessionStoppedError extends Error {
  override readonly name = 'WorkerSessionStoppedError';
  readonly code = 'worker-stopping';
}

/** The relay connection was gone by the time the session came online, so it connects again. */
export class RelayConnectionLostError extends Error {
  override readonly name = 'RelayConnectionLostError';
  readonly code = 'relay-connection-lost';
}

/** The relay answered an advert with something that is not an advert answer. */
export class InvalidAdvertAnswerError extends Error {
  override readonly name = 'InvalidAdvertAnswerError';
  readonly code = 'invalid-advert-answer';
}
