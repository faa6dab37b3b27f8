/**
 * Where a task's input runs: on a staked desktop worker, brokered by the
 * scheduler, or on the relay's own inference pool, whose receipt the relay
 * signs. Both hand back the same {@link WorkerRun}, so what judges and settles
 * a result does not care where it ran. Only staked workers get work: an
 * unstaked one could not be paid, nor slashed for a wrong answer.
 *
 * A text generation streams either way: each piece's text goes to the run's
 * `onText` as the worker (or the pool's thread) makes it, and aborting the
 * run's `stop` with a `StopRequest` (the requester's signed stop) ends it
 * with what it made, which is then its result.
 */
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { AccountId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { ReceiptPayload } from '#core/messages/receipt.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import { WorkerFailedError } from '../scheduler/errors.ts';
import type { ReputationBook } from '../scheduler/reputation-book.ts';
import type { Scheduler, WorkerInfo } from '../scheduler/scheduler.ts';
import type { ComputeKind, TrustTally } from '../trust/trust-tally.ts';
import type { WorkerRun } from '../trust/worker-checks.ts';
import type { TaskRecord } from './task-book.ts';

/** How one run streams and stops (text generation). */
export interface RunOptions {
  /** Each generated piece's text, as it is made. */
  readonly onText?: ((index: number, text: string) => void) | undefined;
  /** Aborted with a `StopRequest`: the generation ends with what it made. Other reasons are ignored. */
  readonly stop?: AbortSignal | undefined;
}

/** What a run needs of a task: its signed bytes, its input, its model and its id. */
export type RunnableTask = Pick<TaskRecord, 'bytes' | 'input' | 'entry'> & {
  readonly view: Pick<TaskRecord['view'], 'id'>;
};

export interface TaskRunnerInit {
  readonly ledger: Pick<LedgerService, 'account' | 'params' | 'network'>;
  readonly pool: Pick<InferencePool, 'run'>;
  /** Desktop workers connected over libp2p. Default none: no worker is ever picked. */
  readonly scheduler?: Pick<Scheduler, 'pick' | 'dispatch' | 'workers'> | undefined;
  /** The relay's key: it signs the receipts of pool runs. */
  readonly signer: Signer;
  /** Told of every failed dispatch, which lowers the worker's standing. */
  readonly reputation: Pick<ReputationBook, 'recordFailure'>;
  /** Counts the compute of every run. */
  readonly tally: Pick<TrustTally, 'compute'>;
  /** How long a worker may take before its dispatch fails. Default 15 s. */
  readonly workerTimeoutMs?: number | undefined;
  /** The clock of pool receipts' `ts`. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

export interface TaskRunner {
  /** The relay's account: the worker of a pool run. */
  readonly account: AccountId;
  /** Workers connected now (none without a scheduler). */
  workers(): readonly WorkerInfo[];
  /** The best staked worker for `entry`, leaving out `exclude`; undefined when none may take it. */
  pickWorker(entry: ModelEntry, exclude: readonly AccountId[]): WorkerInfo | undefined;
  /** Sends `task` to `worker`; a failure lowers the worker's reputation and is thrown. */
  onWorker(task: RunnableTask, worker: AccountId, kind: ComputeKind, options?: RunOptions): Promise<WorkerRun>;
  /** Runs `task`'s input on the relay's pool and signs the receipt as the relay. */
  onPool(task: RunnableTask, kind: ComputeKind, options?: RunOptions): Promise<WorkerRun>;
}

export function createTaskRunner(init: TaskRunnerInit): TaskRunner {
  const { ledger, pool, signer, reputation, tally } = init;
  const now = init.now ?? Date.now;
  const workerTimeoutMs = init.workerTimeoutMs ?? 15_000;

  const workers = (): readonly WorkerInfo[] => init.scheduler?.workers() ?? [];

  /** Staked workers may be paid; the others get no work. */
  function unstaked(): AccountId[] {
    return workers()
      .filter((w) => ledger.account(w.account).stake < ledger.params.minWorkerStake)
      .map((w) => w.account);
  }

  return {
    account: signer.accountId,
    workers,

    pickWorker(entry, exclude) {
      return init.scheduler?.pick(entry, { exclude: [...exclude, ...unstaked()] });
    },

    async onWorker(task, worker, kind, options = {}) {
      const scheduler = init.scheduler;
      if (scheduler === undefined) throw new Error('internal: no scheduler to dispatch to');
      try {
        const done = await scheduler.dispatch(worker, task.bytes, task.input, {
          timeoutMs: workerTimeoutMs,
          onText: options.onText,
          stop: options.stop,
        });
        tally.compute(kind, done.elapsedMs);
        return {
          worker,
          output: done.output,
          receipt: done.receiptBytes,
          outputHash: done.receipt.payload.output,
        };
      } catch (error) {
        if (error instanceof WorkerFailedError) reputation.recordFailure(worker, error.reason);
        throw error;
      }
    },

    async onPool(task, kind, options = {}) {
      // Only a stop aborts a pool run: the pool ends a stopped generation with what it made.
      const signal = options.stop === undefined ? undefined : stopOnly(options.stop);
      const result = await pool.run(task.entry.id, task.input, {
        ...(signal === undefined ? {} : { signal }),
        onText: options.onText,
      });
      tally.compute(kind, result.runMs);
      const payload: ReceiptPayload = {
        v: 1,
        net: ledger.network,
        task: task.view.id,
        model: task.entry.id,
        output: result.outputHash,
        outputBytes: result.output.length,
        units: result.units,
        backend: result.backend,
        runMs: Math.round(result.runMs),
        ts: now(),
      };
      const receipt = encodeEnvelope(await signEnvelope(signer, 'receipt', payload));
      return { worker: signer.accountId, output: result.output, receipt, outputHash: result.outputHash };
    },
  };
}

/** A signal that aborts when `stop` aborts with a `StopRequest`, and never for another reason. */
function stopOnly(stop: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const follow = (): void => {
    const reason: unknown = stop.reason;
    if (reason instanceof StopRequest) controller.abort(reason);
  };
  if (stop.aborted) follow();
  else stop.addEventListener('abort', follow, { once: true });
  return controller.signal;
}
