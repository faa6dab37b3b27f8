/**
 * The end of a task's escrow: settled (the worker paid from it, less the
 * relay's fee, and the checked output handed to the requester), or refunded
 * (the task failed, was cancelled, or was lost with an earlier run of the
 * relay). Only a result that passed every check reaches {@link Settlement.settle}.
 */
import { unwrap } from '#core/result.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { WorkerRun } from '../trust/worker-checks.ts';
import type { TaskBook, TaskEvents, TaskRecord } from './task-book.ts';

export interface SettlementInit {
  readonly ledger: Pick<LedgerService, 'submitSigned' | 'state'>;
  readonly book: Pick<TaskBook, 'move' | 'has'>;
  /** The clock of `finishedAt`. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** Told of every task that ended. Default none. */
  readonly events?: Partial<TaskEvents> | undefined;
}

export interface Settlement {
  /** Pays for `run` (the checked result of `task`) and hands its output to the requester. Throws when the ledger refuses. */
  settle(task: TaskRecord, run: WorkerRun): Promise<void>;
  /** Marks `task` failed with `error` and refunds its escrow. */
  fail(task: TaskRecord, error: unknown): Promise<void>;
  /** Refunds a task just cancelled. Throws when the ledger refuses. */
  refundCancelled(task: TaskRecord): Promise<void>;
  /** Refunds escrows left open by an earlier run of the relay (their tasks were lost with it); how many. */
  refundOrphans(): Promise<number>;
}

export function createSettlement(init: SettlementInit): Settlement {
  const { ledger, book } = init;
  const now = init.now ?? Date.now;

  return {
    async settle(task, run) {
      if (task.view.state !== 'completed') {
        book.move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
      }
      book.move(task, 'verified', { worker: run.worker, outputHash: run.outputHash });
      // The price counts the units the relay read from the input, not what the worker claims.
      const price = Math.min(task.view.maxPrice, task.view.price);
      const settled = unwrap(
        await ledger.submitSigned('tx/settle', { task: task.view.id, receipt: run.receipt, price }),
      );
      task.output = run.output;
      task.receipt = run.receipt;
      book.move(task, 'settled', { settleTx: settled.id, price, finishedAt: now() });
      init.events?.completed?.(task.view);
    },

    async fail(task, error) {
      book.move(task, 'failed', { error: describe(error) });
      const refunded = await ledger.submitSigned('tx/refund', { task: task.view.id, reason: 'failed' });
      if (refunded.ok) book.move(task, 'refunded', { refundTx: refunded.value.id, finishedAt: now() });
      init.events?.completed?.(task.view);
    },

    async refundCancelled(task) {
      const refunded = unwrap(await ledger.submitSigned('tx/refund', { task: task.view.id, reason: 'cancelled' }));
      book.move(task, 'refunded', { refundTx: refunded.id, finishedAt: now() });
      init.events?.completed?.(task.view);
    },

    async refundOrphans() {
      let count = 0;
      for (const [id, escrow] of ledger.state.escrows) {
        if (escrow.status !== 'open' || book.has(id)) continue;
        const refunded = await ledger.submitSigned('tx/refund', { task: id, reason: 'expired' });
        if (refunded.ok) count++;
      }
      return count;
    },
  };
}

/** What a failed task shows: the error's code (`internal` without one) and its message. */
function describe(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' ? code : 'internal',
    message: error instanceof Error ? error.message : 'the task failed',
  };
}
