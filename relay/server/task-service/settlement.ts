/**
 * The end of a task's escrow: settled (the worker paid from it, less the
 * relay's fee, and the checked output handed to the requester), or refunded
 * (the task failed, was cancelled, or was lost with an earlier run of the
 * relay). Only a result that passed every check reaches {@link Settlement.settle}.
 *
 * A language model's task is paid for what it did: the relay counts the
 * pieces of the checked output and of the prompt itself (never the worker's
 * counts) and prices them with `quoteTask`, at most the task's `maxPrice`.
 * The settle transaction pays that and hands the rest of the escrow back to
 * the requester in the same step (see `tx/settle` in shared/core/ledger/state.ts).
 */
import { InvalidModelInputError } from '#core/models/errors.ts';
import { quoteTask } from '#core/models/pricing.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
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
      // Priced first: an output that cannot be priced fails before the task moves on.
      const { price, units } = settledPrice(task, run);
      if (task.view.state !== 'completed') {
        book.move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
      }
      book.move(task, 'verified', { worker: run.worker, outputHash: run.outputHash });
      const settled = unwrap(
        await ledger.submitSigned('tx/settle', { task: task.view.id, receipt: run.receipt, price }),
      );
      task.output = run.output;
      task.receipt = run.receipt;
      book.move(task, 'settled', { settleTx: settled.id, price, units, finishedAt: now() });
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

/**
 * What `run` of `task` costs, never above the task's `maxPrice`. A model
 * priced by units costs the units the relay read from the input (its quote
 * at admission); a language model costs the pieces the relay counts in the
 * checked output and in the prompt, whatever the worker's receipt says.
 * Throws InvalidModelInputError when the output cannot be priced (no check
 * lets such an output through, so the task fails and is refunded).
 */
function settledPrice(task: TaskRecord, run: WorkerRun): { price: number; units: number } {
  const pipeline = pipelineFor(task.entry.pre);
  if (pipeline?.usage === undefined) {
    return { price: Math.min(task.view.maxPrice, task.view.price), units: task.view.units };
  }
  const input = pipeline.decodeInput(task.input);
  const output = pipeline.decodeOutput(run.output);
  if (!input.ok || !output.ok) throw new InvalidModelInputError('the checked output cannot be priced');
  const quote = unwrap(quoteTask(task.entry, pipeline, input.value, output.value));
  return { price: Math.min(task.view.maxPrice, quote.price), units: quote.units };
}

/** What a failed task shows: the error's code (`internal` without one) and its message. */
function describe(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' ? code : 'internal',
    message: error instanceof Error ? error.message : 'the task failed',
  };
}
