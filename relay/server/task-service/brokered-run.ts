/**
 * The brokered run of a task: the relay picks the best staked worker, sends
 * it the task with the checks it is chosen for (a canary beside it, a
 * re-check after it), and settles the checked result; a worker that fails or
 * is convicted is left out and the task goes to the next one. With no worker
 * left it runs on the relay's pool, at most `maxAttempts` times, then fails
 * and is refunded. Workers that fail do not count against the task.
 */
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { canTransition } from '#core/task-state/task-state.ts';
import type { WorkerInfo } from '../scheduler/scheduler.ts';
import type { WorkerChecks, WorkerRun } from '../trust/worker-checks.ts';
import type { Settlement } from './settlement.ts';
import type { TaskBook, TaskRecord } from './task-book.ts';
import type { TaskRunner } from './task-runner.ts';

export interface BrokeredRunInit {
  readonly book: Pick<TaskBook, 'move' | 'requeue'>;
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
  ): Promise<WorkerRun | undefined> {
    book.move(task, 'assigned', { worker: worker.account });
    book.move(task, 'running');
    const checked = { id: task.view.id, entry: task.entry, input: task.input };
    const canary = checks.maybeCanary(worker, checked);
    const run = await runner.onWorker(task, worker.account, 'task');
    book.move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
    return checks.check(checked, run, canary, failed);
  }

  return {
    async run(task, exclude = []) {
      const id = task.view.id;
      const failedWorkers: AccountId[] = [...exclude];
      let lastError: unknown;
      for (let poolAttempts = 0; poolAttempts < maxAttempts;) {
        const worker = runner.pickWorker(task.entry, failedWorkers);
        try {
          let run: WorkerRun | undefined;
          if (worker !== undefined) {
            run = await runChecked(task, worker, failedWorkers);
            if (run === undefined) {
              failedWorkers.push(worker.account);
              book.requeue(task);
              continue;
            }
          } else {
            poolAttempts++;
            book.move(task, 'assigned', { worker: runner.account });
            book.move(task, 'running');
            run = await runner.onPool(task, 'task');
          }
          await settlement.settle(task, run);
          return;
        } catch (error) {
          lastError = error;
          init.onError?.(error, id);
          if (worker !== undefined) failedWorkers.push(worker.account);
          book.requeue(task);
          // The same input will fail again; and a task past its result (a failed settlement) cannot run again.
          if (isInputError(error) || task.view.state !== 'pending') break;
        }
      }
      if (canTransition(task.view.state, 'failed')) await settlement.fail(task, lastError);
    },
  };
}

function isInputError(error: unknown): boolean {
  return error instanceof Error && error.name === 'InvalidModelInputError';
}
