/**
 * Tasks on the relay: accept a signed task with its input, check signature,
 * network, freshness, model and price, escrow the price in the ledger, run it
 * (on a staked desktop worker, else on the relay's own pool), sign the
 * receipt for pool runs, settle the escrow minus the relay's fee — or refund
 * it when the task is cancelled or keeps failing. Re-submitting a task is
 * idempotent: the relay answers with the task it has.
 *
 * Workers are not trusted (see ../trust/worker-checks.ts): a sampled share of
 * their results is re-run before it is settled, known-answer canaries are
 * mixed into their work, and a worker caught with a wrong answer is slashed,
 * stops getting tasks, and is never paid for it; the requester gets and pays
 * for the honest result only. A result is settled only once it has passed
 * every check it was chosen for, and only then can the requester fetch it.
 *
 * This module only wires the parts, each in its own file: the task book
 * (./task-book.ts), admission and escrow (./admission.ts), where a task runs
 * (./task-runner.ts), the brokered run (./brokered-run.ts), the direct path
 * (./direct-path.ts), settlement (./settlement.ts), and the trust checks
 * with their audit tasks (../trust/worker-checks.ts, ../trust/audit-tasks.ts).
 */
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { Catalogue } from '#core/models/catalogue.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import { createReputationBook, type ReputationBook } from '../scheduler/reputation-book.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { createAuditAccounts } from '../trust/audit-accounts.ts';
import { createAuditTasks } from '../trust/audit-tasks.ts';
import { createCanaryStore, type CanaryStore } from '../trust/canary-store.ts';
import { DEFAULT_CANARY_RATE, DEFAULT_RECHECK_RATE } from '../trust/trust-defaults.ts';
import { createTrustTally, type TrustTallySnapshot } from '../trust/trust-tally.ts';
import { createWorkerChecks, poolChecker } from '../trust/worker-checks.ts';
import { createAdmission, type TaskRoute } from './admission.ts';
import { createBrokeredRun } from './brokered-run.ts';
import { createDirectPath, type DirectOffer, type DirectPathDeadlines } from './direct-path.ts';
import { createSettlement } from './settlement.ts';
import {
  createTaskBook,
  type TaskEvents,
  type TaskRecord,
  type TaskResult,
  type TaskView,
  type TextWatcher,
} from './task-book.ts';
import { createTaskRunner } from './task-runner.ts';
import { createTaskStop } from './task-stop.ts';

export { DEFAULT_CANARY_RATE, DEFAULT_RECHECK_RATE };
export { DirectPathError, type DirectPathErrorCode } from './errors.ts';
export type { TaskRoute } from './admission.ts';
export type { DirectOffer, DirectPathDeadlines } from './direct-path.ts';
export type { TaskEvents, TaskResult, TaskView, TextWatcher } from './task-book.ts';

/** Direct-path options. */
export type DirectPathInit = DirectPathDeadlines;

/** How the relay checks untrusted workers. */
export interface TaskTrustInit {
  /** Share (0 to 1) of dispatches to a worker joined by a known-answer canary to the same worker. Default {@link DEFAULT_CANARY_RATE}. */
  readonly canaryRate?: number;
  /** Share (0 to 1) of worker results re-run, by a second worker or the pool, before settlement. Default {@link DEFAULT_RECHECK_RATE}. */
  readonly recheckRate?: number;
  /**
   * The relay's audit accounts, which sign canaries and re-checks by a
   * second worker (see `deriveAuditSigners`). Default none: no canaries, and
   * re-checks run on the pool.
   */
  readonly auditors?: readonly Signer[];
  /** Shared with the scheduler, which weighs it. Default: one over the ledger's reputation. */
  readonly reputation?: ReputationBook;
  /** Share of a convicted worker's stake its slash takes, above 0 and at most 1. Default 1. */
  readonly slashShare?: number;
  /** Uniform numbers in [0, 1) that decide what is checked, and make canary inputs. Default `Math.random`. */
  readonly random?: () => number;
  /** Where canaries' known answers come from. Default: a store over `pool`. */
  readonly canaries?: CanaryStore;
}

export interface TaskServiceInit {
  readonly ledger: LedgerService;
  /** The relay's pool; its `check` (when there) judges text-generation answers by a forced pass. */
  readonly pool: Pick<InferencePool, 'run'> & Partial<Pick<InferencePool, 'check'>>;
  /** Desktop workers connected over libp2p; without one every task runs on the pool. */
  readonly scheduler?: Pick<Scheduler, 'pick' | 'dispatch' | 'workers' | 'hold'>;
  /** How long a worker may take before the task goes elsewhere. Default 15 s. */
  readonly workerTimeoutMs?: number;
  readonly catalogue: () => Promise<Catalogue>;
  /** The relay's key: it signs receipts for work on its pool. */
  readonly signer: Signer;
  readonly verifier: Ed25519Verifier;
  /** Attempts on the pool before a task is refunded. Default 2. */
  readonly maxAttempts?: number;
  /** Results kept in memory for `result()`. Default 1000 (oldest dropped). */
  readonly maxResults?: number;
  readonly now?: () => number;
  readonly events?: Partial<TaskEvents>;
  /** Called with the verified requester before anything is escrowed; throw to refuse (rate limits). */
  readonly admit?: (requester: AccountId) => void;
  /** A task attempt or a check failed; `task` is the task concerned, when there is one. */
  readonly onError?: (error: unknown, task?: TaskId) => void;
  /** Checks on untrusted workers. Default: the default rates, no audit accounts. */
  readonly trust?: TaskTrustInit;
  /** The interactive path's deadlines. */
  readonly direct?: DirectPathInit;
}

export interface TaskService {
  /**
   * Accepts a signed task and its input; resolves once the escrow is durable. Throws typed errors.
   * With `route: 'direct'` the task is assigned to a staked worker with WebRTC addresses, and the
   * answer carries the {@link DirectOffer}; without such a worker the task goes the brokered way
   * (no offer).
   */
  submit(
    task: Uint8Array,
    input: Uint8Array,
    options?: { readonly route?: TaskRoute },
  ): Promise<{ task: TaskView; created: boolean; direct?: DirectOffer }>;
  /**
   * The worker's receipt and output for a direct task, brought by the requester: checked (the
   * assigned worker's signature, this task, this output), then judged like a brokered result and
   * settled. Resolves with the task once settled (or handed to the brokered path when the worker's
   * answer was proven wrong). Throws {@link DirectPathError}; a retry of an accepted receipt
   * answers the task again.
   */
  submitReceipt(id: TaskId, receipt: Uint8Array, output: Uint8Array): Promise<TaskView>;
  /** The requester's signed request to give up on the direct path: the relay runs the task brokered. */
  fallback(id: TaskId, request: Uint8Array): Promise<{ task: TaskView; created: boolean }>;
  get(id: TaskId): TaskView;
  list(filter?: { readonly account?: AccountId; readonly limit?: number }): TaskView[];
  /** The output and receipt once the task settled; undefined before (or after the result was dropped). Throws UnknownTaskError. */
  result(id: TaskId): TaskResult | undefined;
  /** Cancels a task that has not started, with the requester's signed cancel message; refunds the escrow. */
  cancel(id: TaskId, cancel: Uint8Array): Promise<TaskView>;
  /**
   * The requester's signed `task/stop`: a task not started yet is cancelled and refunded; a text
   * generation under way ends with what it made and settles for that. Resolves with the task once
   * it ended (or as it is after a while). Throws `NotStoppableError` for anything else (see ./task-stop.ts).
   */
  stop(id: TaskId, stop: Uint8Array): Promise<TaskView>;
  /**
   * Follows a task's streamed text (replayed from the first piece) until it ends; returns what stops
   * following. Throws UnknownTaskError, and TooManyStreamsError when the relay holds enough streams.
   */
  watch(id: TaskId, watcher: TextWatcher): () => void;
  /** Refunds escrows left open by an earlier run of the relay (their tasks were lost with it). */
  refundOrphans(): Promise<number>;
  /** Resolves when every running task has finished. */
  idle(): Promise<void>;
  /** Canaries, re-checks, mismatches, slashes and compute so far. */
  trustTally(): TrustTallySnapshot;
}

export function createTaskService(init: TaskServiceInit): TaskService {
  const { ledger, pool, signer, verifier, scheduler, events } = init;
  const now = init.now ?? Date.now;
  const trust = init.trust ?? {};
  const random = trust.random ?? Math.random;
  const reputation =
    trust.reputation ?? createReputationBook({ ledgerReputation: (account) => ledger.account(account).reputation });
  const onError = (error: unknown, task?: TaskId): void => init.onError?.(error, task);
  const tally = createTrustTally();
  const book = createTaskBook({ maxResults: init.maxResults });
  const runner = createTaskRunner({
    ledger,
    pool,
    scheduler,
    signer,
    reputation,
    tally,
    workerTimeoutMs: init.workerTimeoutMs,
    now,
  });
  // A task's streamed text ends with its story: settled, refunded, or failed for good.
  const settlement = createSettlement({
    ledger,
    book,
    now,
    events: {
      ...events,
      completed: (view) => {
        book.endText(view.id);
        events?.completed?.(view);
      },
    },
  });
  const checks = createWorkerChecks({
    canaryRate: trust.canaryRate ?? DEFAULT_CANARY_RATE,
    recheckRate: trust.recheckRate ?? DEFAULT_RECHECK_RATE,
    slashShare: trust.slashShare ?? 1,
    random,
    ledger,
    verifier,
    reputation,
    tally,
    catalogue: init.catalogue,
    workers: () => runner.workers(),
    canaries:
      trust.canaries ??
      createCanaryStore({
        pool,
        random,
        onCompute: (ms) => {
          tally.compute('canary', ms);
        },
      }),
    canAudit: (trust.auditors?.length ?? 0) > 0,
    pickWorker: (entry, exclude) => runner.pickWorker(entry, exclude),
    runOnPool: (task, kind) => runner.onPool(book.get(task), kind),
    checkOnPool: poolChecker(pool),
    requesterOf: (task) => book.get(task).view.requester,
    // The audit tasks are made below: they escrow through admission, which starts tasks through these checks.
    startAudit: (kind, worker, entry, input) => audits.start(kind, worker, entry, input),
    recordSlash: (task, tx) => {
      book.recordSlash(task, tx);
    },
    onError,
  });
  const brokered = createBrokeredRun({ book, runner, checks, settlement, maxAttempts: init.maxAttempts, onError });
  const direct = createDirectPath({
    ledger,
    signer,
    verifier,
    book,
    runner,
    scheduler,
    checks,
    settlement,
    brokered,
    tally,
    now,
    assignmentTtlMs: init.direct?.assignmentTtlMs,
    receiptGraceMs: init.direct?.receiptGraceMs,
    onError,
  });
  const admission = createAdmission({
    ledger,
    verifier,
    catalogue: init.catalogue,
    book,
    direct,
    settlement,
    start,
    now,
    events,
    admit: init.admit,
    onError,
  });
  const audits = createAuditTasks({
    ledger,
    verifier,
    auditors: createAuditAccounts({
      ledger,
      signers: trust.auditors ?? [],
      random,
      onError: (error) => init.onError?.(error),
    }),
    admission,
    book,
    runner,
    settlement,
    random,
    now,
  });

  /** Where an accepted task runs: the direct path, the relay's audit of one worker, or the brokered way. */
  function start(task: TaskRecord): Promise<void> | undefined {
    if (task.direct !== undefined) return direct.run(task, task.direct);
    if (task.view.state !== 'pending') return undefined;
    return task.audit === undefined ? brokered.run(task) : audits.run(task, task.audit);
  }

  return {
    submit: (task, input, options) => admission.submit(task, input, options),
    submitReceipt: (id, receipt, output) => direct.submitReceipt(id, receipt, output),
    fallback: (id, request) => direct.fallback(id, request),
    get: (id) => book.get(id).view,
    list: (filter) => book.list(filter),
    result: (id) => book.result(id),
    cancel: (id, cancel) => admission.cancel(id, cancel),
    stop: createTaskStop({ ledger, verifier, book, direct, settlement, now }),
    watch: (id, watcher) => book.watch(id, watcher),
    refundOrphans: () => settlement.refundOrphans(),
    idle: () => admission.idle(),
    trustTally: () => tally.snapshot(),
  };
}
