/**
 * The brokered run of a task: the relay picks the best staked worker, sends
 * it the task with the checks it is chosen for (a canary beside it, a
 * re-check after it), and settles the checked result; a worker that fails or
 * is convicted is left out and the task goes to the next one. With no worker
 * left it runs on the relay's pool, at most `maxAttempts` times, then fails
 * and is refunded. Workers that fail do not count against the task.
 *
 * A text generation streams on the way: each piece's text goes to the task
 * book (which hands it to whoever follows the task), and while it runs the
 * task's `stopper` lets the requester's stop reach the run (forwarded to the
 * worker, or given to the pool): the run then ends with what it made, which
 * is checked and settled like any result. A stop that finds nothing made yet
 * (the worker had not started), or a run that fails after a stop, ends the
 * task there: it fails with {@link TaskStoppedError} and is refunded, never
 * run again.
 */
import { StopRequest } from '#core/generation/stop-request.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { canTransition } from '#core/task-state/task-state.ts';
import { DispatchStoppedError } from '../scheduler/errors.ts';
import type { WorkerInfo } from '../scheduler/scheduler.ts';
import type { WorkerChecks, WorkerRun } from '../trust/worker-checks.ts';
import type { Settlement } from './settlement.ts';
import type { TaskBook, TaskRecord } from './task-book.ts';
import type { RunOptions, TaskRunner } from './task-runner.ts';

/** The requester stopped the task before anything was made (or its run failed after the stop): it is refunded. */
export class TaskStoppedError extends Error {
  override readonly name = 'TaskStoppedError';
  readonly code = 'stopped';
}

export interface BrokeredRunInit {
  readonly book: Pick<TaskBook, 'move' | 'requeue' | 'appendText'>;
  readonly runner: Pick<TaskRunner, 'account' | 'pickWorker' | 'onWorker' | 'onPool'>;
  readonly checks: Pick<WorkerChecks, 'maybeCanary' | 'check'>;
  readonly settlement: Pick<Settlement, 'settle' | 'fail'>;
  /** Attempts on the pool before a task is refunded. Default 2. */
  readonly maxAttempts?: number | undefined;
  /** A task attempt failed. Default: ignored. */
  readonly onError?: ((error: unknown, task: TaskId) => void) | undefined;
}

export interface BrokeredRun {
  /** Runs a pending `task` until it is settled or refunded, never on a worker in `exclude`. Never rejects for a task's failure. */
  run(task: TaskRecord, exclude?: readonly AccountId[]): Promise<void>;
}

export function createBrokeredRun(init: BrokeredRunInit): BrokeredRun {
  const { book, runner, checks, settlement } = init;
  const maxAttempts = init.maxAttempts ?? 2;

  /**
   * Runs a task on a worker, with the checks it is chosen for. Returns the
   * run to settle (the worker's, or the pool's honest one when the worker's
   * was wrong), or undefined when the worker's result is rejected and the
   * task must run elsewhere.
   */
  async function runChecked(
    task: TaskRecord,
    worker: WorkerInfo,
    failed: readonly AccountId[],
    options: RunOptions,
  ): Promise<WorkerRun | undefined> {
    book.move(task, 'assigned', { worker: worker.account });
    book.move(task, 'running');
    const checked = { id: task.view.id, entry: task.entry, input: task.input };
    const canary = checks.maybeCanary(worker, checked);
    const run = await runner.onWorker(task, worker.account, 'task', options);
    book.move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
    return checks.check(checked, run, canary, failed);
  }

  return {
    async run(task, exclude = []) {
      const id = task.view.id;
      const failedWorkers: AccountId[] = [...exclude];
      let lastError: unknown;
      for (let poolAttempts = 0; poolAttempts < maxAttempts;) {
        // Stopped while an earlier attempt ran, and that attempt made nothing to settle: the task ends here.
        if (task.stopped !== undefined) {
          lastError = new TaskStoppedError('the requester stopped the task before anything was made');
          break;
        }
        const worker = runner.pickWorker(task.entry, failedWorkers);
        const stopper = new AbortController();
        const options: RunOptions = {
          onText: (index, text) => {
            book.appendText(id, index, text);
          },
          stop: stopper.signal,
        };
        if (task.entry.kind === 'text-generation') task.stopper = stopper;
        try {
          let run: WorkerRun | undefined;
          if (worker !== undefined) {
            run = await runChecked(task, worker, failedWorkers, options);
            if (run === undefined) {
              failedWorkers.push(worker.account);
              book.requeue(task);
              continue;
            }
          } else {
            poolAttempts++;
            book.move(task, 'assigned', { worker: runner.account });
            book.move(task, 'running');
            run = await runner.onPool(task, 'task', options);
          }
          await settlement.settle(task, run);
          return;
        } catch (error) {
          const stopped = isStopped(error);
          lastError = stopped ? new TaskStoppedError('the requester stopped the task before anything was made') : error;
          if (!stopped) init.onError?.(error, id);
          // A worker that had not started when the stop came did nothing wrong.
          if (worker !== undefined && !stopped) failedWorkers.push(worker.account);
          book.requeue(task);
          // The same input will fail again; and a task past its result (a failed settlement) cannot run again.
          if (isInputError(error) || stopped || task.view.state !== 'pending') break;
        } finally {
          if (task.stopper === stopper) delete task.stopper;
        }
      }
      if (canTransition(task.view.state, 'failed')) await settlement.fail(task, lastError);
    },
  };
}

/** The run ended without a result because the requester stopped it (the worker's answer, or the pool's). */
function isStopped(error: unknown): boolean {
  return error instanceof DispatchStoppedError || error instanceof StopRequest;
}

function isInputError(error: unknown): boolean {
  return error instanceof Error && error.name === 'InvalidModelInputError';
}
