/**
 * Stop: the requester's signed `task/stop` for one of its tasks. What it does
 * depends on where the task is:
 *
 * - not started yet (pending, or assigned and not running): cancelled, and
 *   its escrow refunded, as a cancel would;
 * - a text generation running on the brokered path (on a worker or on the
 *   relay's pool): the stop reaches the run (the worker gets it on the task
 *   stream; the pool's run is aborted with it), the generation ends with what
 *   it made, and that shorter result is checked and settled for the pieces
 *   made, the rest of the escrow going back to the requester;
 * - anything else (another kind of task under way, or a task whose result is
 *   in already): refused with {@link NotStoppableError}, and nothing changes.
 *
 * The answer waits (a while) for the task to end, so the requester gets the
 * settled task back. A second stop of a task being stopped waits the same way.
 */
import { readMessage } from '#core/envelope/envelope.ts';
import { checkFreshness } from '#core/envelope/freshness.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { TaskId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { decodeStopPayload } from '#core/messages/task.ts';
import { unwrap } from '#core/result.ts';
import { canTransition } from '#core/task-state/task-state.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { DirectPath } from './direct-path.ts';
import { ForbiddenError, NotStoppableError } from './errors.ts';
import type { Settlement } from './settlement.ts';
import type { TaskBook, TaskRecord, TaskView } from './task-book.ts';

export interface TaskStopInit {
  readonly ledger: Pick<LedgerService, 'network'>;
  readonly verifier: Ed25519Verifier;
  readonly book: Pick<TaskBook, 'get' | 'move' | 'watch'>;
  /** A direct task waiting for its receipt stops waiting when it is cancelled. */
  readonly direct: Pick<DirectPath, 'giveUp'>;
  readonly settlement: Pick<Settlement, 'refundCancelled'>;
  /** Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** How long a stop waits for its task to end before answering with the task as it is. Default 15 s. */
  readonly waitMs?: number | undefined;
}

/** See `TaskService.stop`. */
export type TaskStop = (id: TaskId, stop: Uint8Array) => Promise<TaskView>;

export function createTaskStop(init: TaskStopInit): TaskStop {
  const { ledger, verifier, book } = init;
  const now = init.now ?? Date.now;
  const waitMs = init.waitMs ?? 15_000;

  /** The task's view once it ended, or as it is after `waitMs`. */
  function ended(task: TaskRecord): Promise<TaskView> {
    return new Promise((resolve) => {
      let unwatch = (): void => undefined;
      const timer = setTimeout(() => {
        unwatch();
        resolve(task.view);
      }, waitMs);
      try {
        unwatch = book.watch(task.view.id, {
          text: () => undefined,
          end: (view) => {
            clearTimeout(timer);
            resolve(view);
          },
        });
      } catch {
        // No room to watch (too many streams open): answer at once with the task as it is.
        clearTimeout(timer);
        resolve(task.view);
      }
    });
  }

  return async (id, bytes) => {
    const task = book.get(id);
    const stop = unwrap(readMessage(bytes, 'task/stop', decodeStopPayload, verifier));
    if (stop.payload.task !== id || stop.payload.net !== ledger.network) {
      throw new ForbiddenError('the stop message is for another task or network');
    }
    if (stop.signer !== task.view.requester) throw new ForbiddenError('only the requester may stop a task');
    unwrap(checkFreshness(stop.payload.ts, now()));
    if (canTransition(task.view.state, 'cancelled')) {
      book.move(task, 'cancelled');
      if (task.direct !== undefined) init.direct.giveUp(task.direct);
      await init.settlement.refundCancelled(task);
      return task.view;
    }
    if (task.stopped !== undefined) return ended(task);
    if (task.view.state !== 'running' || task.stopper === undefined) {
      throw new NotStoppableError(
        task.view.state === 'running'
          ? 'only a text generation can be stopped while it runs'
          : `the task is ${task.view.state}: its result is in, or it ended`,
      );
    }
    task.stopped = bytes;
    task.stopper.abort(new StopRequest(bytes));
    return ended(task);
  };
}
