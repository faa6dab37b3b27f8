/**
 * The life of a task, as the relay and the client track it.
 *
 *   pending ─► assigned ─► running ─► completed ─► verified ─► settled
 *      │          │           │           │
 *      │          └───────────┴──► pending (worker timed out: reassign)
 *      ├──► cancelled ─► refunded          └──► failed (verification failed)
 *      └──► failed ─► refunded   (no worker took it, too many failures)
 *
 * `settled` and `refunded` are final: value has moved exactly once.
 */
import { AcnError } from '../errors.ts';
import { err, ok, type Result } from '../result.ts';

export const TASK_STATES = [
  'pending',
  'assigned',
  'running',
  'completed',
  'verified',
  'settled',
  'failed',
  'refunded',
  'cancelled',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  pending: ['assigned', 'cancelled', 'failed'],
  assigned: ['running', 'pending', 'cancelled', 'failed'],
  running: ['completed', 'pending', 'failed'],
  completed: ['verified', 'pending', 'failed'],
  verified: ['settled'],
  settled: [],
  failed: ['refunded'],
  cancelled: ['refunded'],
  refunded: [],
};

export class IllegalTransitionError extends AcnError {
  override readonly name = 'IllegalTransitionError';
  readonly code = 'illegal-transition';
}

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The next state, or an error naming the illegal move. */
export function transition(from: TaskState, to: TaskState): Result<TaskState, IllegalTransitionError> {
  return canTransition(from, to) ? ok(to) : err(new IllegalTransitionError(`a task cannot go from ${from} to ${to}`));
}

/** True for states no transition leaves. */
export function isFinal(state: TaskState): boolean {
  return TRANSITIONS[state].length === 0;
}

/** Whether the requester may still cancel (and be refunded): only before a worker starts. */
export function isCancellable(state: TaskState): boolean {
  return canTransition(state, 'cancelled');
}
