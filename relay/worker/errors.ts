/**
 * Why the Node worker refused to start or refused a task. One class per
 * condition, told apart by `name` or `code`. They extend `Error` rather than
 * the core's `AcnError` because their codes belong to the worker, not to the
 * protocol's `ErrorCode` union (the same choice as relay/node/pool and
 * relay/scheduler). A task refusal crosses the wire to the relay as
 * `{ error: { code, message } }`.
 */

/** The account cannot hold the stake the worker was told to keep: its balance is too low. */
export class StakeUnavailableError extends Error {
  override readonly name = 'StakeUnavailableError';
  readonly code = 'insufficient-funds';
}

/** The relay's libp2p identity is not the network the worker joined (or the pinned relay key). */
export class RelayIdentityError extends Error {
  override readonly name = 'RelayIdentityError';
  readonly code = 'relay-mismatch';
}

/** A settings file or a typed command that does not describe valid settings. */
export class InvalidSettingsError extends Error {
  override readonly name = 'InvalidSettingsError';
  readonly code = 'invalid-settings';
}

/** Every task slot is taken (or cooling down to keep the CPU share) and the wait ran out. */
export class WorkerBusyError extends Error {
  override readonly name = 'WorkerBusyError';
  readonly code = 'worker-busy';
}

/**
 * A task the worker will not run: not a valid signed task, for another
 * network, without the relay's assignment, its input not the bytes it was
 * signed with, or a model this worker does not offer. Every desktop worker
 * refuses with the same class; `code` is what the task's sender is told.
 */
export { TaskRefusedError } from '#client/worker-session/errors.ts';
