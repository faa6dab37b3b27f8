/**
 * The interactive (direct) path: the relay assigns a task to a staked worker
 * that the requester can dial over WebRTC and signs the assignment; the
 * requester runs the task on the worker itself and brings back the worker's
 * signed receipt and output, which are checked (the assigned worker's
 * signature, this task, this output) and then judged and settled like a
 * brokered result. When the requester gives up (a signed fallback request),
 * the deadline passes, or the worker's answer is proven wrong, the task goes
 * the brokered way instead. The escrow is the same either way.
 */
import { equalBytes, sha256Hex } from '#core/encoding/bytes.ts';
import { readMessage } from '#core/envelope/envelope.ts';
import { checkFreshness } from '#core/envelope/freshness.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { readFallbackRequest, signAssignment } from '#core/messages/assignment.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import { unwrap } from '#core/result.ts';
import { canTransition } from '#core/task-state/task-state.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { Scheduler, WorkerInfo } from '../scheduler/scheduler.ts';
import type { TrustTally } from '../trust/trust-tally.ts';
import type { WorkerChecks, WorkerRun } from '../trust/worker-checks.ts';
import type { BrokeredRun } from './brokered-run.ts';
import { deferred } from './deferred.ts';
import { DirectPathError } from './errors.ts';
import type { Settlement } from './settlement.ts';
import type { TaskBook, TaskRecord, TaskView } from './task-book.ts';
import type { TaskRunner } from './task-runner.ts';

/** Where the requester runs a direct task: the worker's libp2p identity, its WebRTC addresses and the relay's signed assignment. */
export interface DirectOffer {
  readonly worker: AccountId;
  readonly addrs: readonly string[];
  /** The relay-signed assignment (see shared/core/messages/assignment.ts), to send the worker with the task. */
  readonly assignment: Uint8Array;
  /** Until when the worker may start the task; the relay runs it itself once a receipt is this late (plus a grace). */
  readonly expiresAt: number;
}

/** The direct path's deadlines. */
export interface DirectPathDeadlines {
  /** How long an assignment is valid. Default 20 s. */
  readonly assignmentTtlMs?: number | undefined;
  /** How long after the expiry a receipt is still taken before the relay runs the task itself. Default 5 s. */
  readonly receiptGraceMs?: number | undefined;
}

/** A worker chosen for a task, with the offer signed for it. */
export interface DirectAssignment {
  readonly worker: WorkerInfo;
  readonly offer: DirectOffer;
}

/** A task on the direct path, waiting for the requester's receipt or fallback. */
export interface DirectJob {
  readonly offer: DirectOffer;
  readonly worker: WorkerInfo;
  /** 'waiting' until a receipt or a fallback (or a cancel, or the deadline) decides the route; decided once. */
  outcome: 'waiting' | 'receipt' | 'fallback';
  /** The receipt accepted, to answer a retry of the same post. */
  receipt?: Uint8Array;
  /** Hands the decision to the task's run: the worker's run, or undefined for the brokered path. */
  readonly decide: (run: WorkerRun | undefined) => void;
  readonly decision: Promise<WorkerRun | undefined>;
  /** Resolves when the direct run has been settled or handed to the brokered path. */
  readonly finished: Promise<void>;
  readonly finish: () => void;
}

/** The answer to a submission: the task, whether this call created it, and the offer while it is open. */
export interface Submission {
  readonly task: TaskView;
  readonly created: boolean;
  readonly direct?: DirectOffer;
}

export interface DirectPathInit extends DirectPathDeadlines {
  readonly ledger: Pick<LedgerService, 'account' | 'params' | 'network'>;
  /** The relay's key: it signs assignments. */
  readonly signer: Signer;
  readonly verifier: Ed25519Verifier;
  readonly book: Pick<TaskBook, 'get' | 'move' | 'requeue'>;
  readonly runner: Pick<TaskRunner, 'workers' | 'pickWorker'>;
  /** Counts a waiting direct task in its worker's load. Default none. */
  readonly scheduler?: Pick<Scheduler, 'hold'> | undefined;
  readonly checks: Pick<WorkerChecks, 'maybeCanary' | 'check'>;
  readonly settlement: Pick<Settlement, 'settle' | 'fail'>;
  /** Where a task goes when the direct path gives up on it. */
  readonly brokered: Pick<BrokeredRun, 'run'>;
  /** Counts the worker's compute of an accepted receipt. */
  readonly tally: Pick<TrustTally, 'compute'>;
  /** Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** The signal that ends the wait for a receipt after `ms`. Default `AbortSignal.timeout`. */
  readonly timeout?: ((ms: number) => AbortSignal) | undefined;
  /** A check or a settlement failed. Default: ignored. */
  readonly onError?: ((error: unknown, task: TaskId) => void) | undefined;
}

export interface DirectPath {
  /** The best staked worker for `entry` that a requester can dial over WebRTC; undefined when there is none. */
  pick(entry: ModelEntry): WorkerInfo | undefined;
  /** Signs `worker`'s assignment to the task `id`. */
  offer(id: TaskId, entry: ModelEntry, worker: WorkerInfo): Promise<DirectAssignment>;
  /** Marks `task` assigned to the offer's worker (synchronously: nothing can reach the task in between). */
  assign(task: TaskRecord, assignment: DirectAssignment): void;
  /** The answer to a submission of `task`: with the direct offer while the requester may still use it. */
  withOffer(task: TaskRecord, created: boolean): Submission;
  /** A direct task's run: waits for the receipt (or a fallback, or the deadline), then settles it or runs it brokered. */
  run(task: TaskRecord, job: DirectJob): Promise<void>;
  /** See `TaskService.submitReceipt`. Throws {@link DirectPathError}. */
  submitReceipt(id: TaskId, receipt: Uint8Array, output: Uint8Array): Promise<TaskView>;
  /** See `TaskService.fallback`. Throws {@link DirectPathError}. */
  fallback(id: TaskId, request: Uint8Array): Promise<{ task: TaskView; created: boolean }>;
  /** Sends a waiting direct task the brokered way (fallback, deadline or cancel); false when already decided. */
  giveUp(job: DirectJob): boolean;
}

export function createDirectPath(init: DirectPathInit): DirectPath {
  const { ledger, signer, verifier, book, runner, checks, settlement, brokered, tally } = init;
  const now = init.now ?? Date.now;
  const timeout = init.timeout ?? ((ms: number) => AbortSignal.timeout(ms));
  const assignmentTtlMs = init.assignmentTtlMs ?? 20_000;
  const receiptGraceMs = init.receiptGraceMs ?? 5_000;

  /** A worker's WebRTC addresses from its advert: what a requester can dial. */
  function directAddrs(worker: WorkerInfo): string[] {
    return worker.advert.addrs.filter((address) => address.includes('/webrtc'));
  }

  function giveUp(job: DirectJob): boolean {
    if (job.outcome !== 'waiting') return false;
    job.outcome = 'fallback';
    job.decide(undefined);
    return true;
  }

  function directJob(task: TaskRecord): DirectJob {
    const job = task.direct;
    if (job === undefined) throw new DirectPathError('not-direct', 'the task was not submitted for the direct path');
    return job;
  }

  /** Checks a receipt for a direct task; throws what is wrong with it. */
  function checkReceipt(task: TaskRecord, job: DirectJob, bytes: Uint8Array, output: Uint8Array): WorkerRun {
    const read = readMessage(bytes, 'receipt', decodeReceiptPayload, verifier);
    if (!read.ok) throw new DirectPathError('bad-receipt', `the receipt does not verify: ${read.error.message}`);
    const receipt = read.value;
    const p = receipt.payload;
    if (receipt.signer !== job.offer.worker) {
      throw new DirectPathError('wrong-signer', 'the receipt is not signed by the worker the task was assigned to');
    }
    // A worker that unstaked since cannot be paid: refused here, the requester falls back, and the escrow stays whole.
    if (ledger.account(receipt.signer).stake < ledger.params.minWorkerStake) {
      throw new DirectPathError('worker-unstaked', 'the worker no longer holds the stake to be paid');
    }
    if (p.net !== ledger.network || p.task !== task.view.id || p.model !== task.entry.id) {
      throw new DirectPathError('bad-receipt', 'the receipt names another network, task or model');
    }
    if (p.outputBytes !== output.length || sha256Hex(output) !== p.output) {
      throw new DirectPathError('output-mismatch', 'the output does not match the hash and size in the receipt');
    }
    tally.compute('task', p.runMs);
    return { worker: receipt.signer, output, receipt: bytes, outputHash: p.output };
  }

  return {
    pick(entry) {
      const unreachable = runner
        .workers()
        .filter((w) => directAddrs(w).length === 0)
        .map((w) => w.account);
      return runner.pickWorker(entry, unreachable);
    },

    async offer(id, entry, worker) {
      const at = now();
      const expiresAt = at + assignmentTtlMs;
      const assignment = await signAssignment(signer, {
        v: 1,
        net: ledger.network,
        task: id,
        model: entry.id,
        worker: worker.account,
        expires: expiresAt,
        ts: at,
      });
      return { worker, offer: { worker: worker.account, addrs: directAddrs(worker), assignment, expiresAt } };
    },

    assign(task, { worker, offer }) {
      const decision = deferred<WorkerRun | undefined>();
      const finished = deferred<undefined>();
      // The worker's load counts the task until it is decided, so the next direct task goes to a less busy worker.
      const release = init.scheduler?.hold(worker.account);
      task.direct = {
        offer,
        worker,
        outcome: 'waiting',
        decide: decision.resolve,
        decision: decision.promise,
        finished: finished.promise,
        finish: () => {
          release?.();
          finished.resolve(undefined);
        },
      };
      book.move(task, 'assigned', { worker: worker.account });
    },

    withOffer(task, created) {
      const job = task.direct;
      const open = job?.outcome === 'waiting' && now() <= job.offer.expiresAt;
      return open ? { task: task.view, created, direct: job.offer } : { task: task.view, created };
    },

    async run(task, job) {
      const checked = { id: task.view.id, entry: task.entry, input: task.input };
      // The worker gets its canaries on the brokered connection, as on the brokered path.
      const canary = checks.maybeCanary(job.worker, checked);
      const deadline = timeout(Math.max(0, job.offer.expiresAt + receiptGraceMs - now()));
      const onDeadline = (): void => {
        giveUp(job);
      };
      deadline.addEventListener('abort', onDeadline, { once: true });
      try {
        const run = await job.decision;
        deadline.removeEventListener('abort', onDeadline);
        if (run === undefined) {
          // Cancelled meanwhile: the cancel refunded it.
          if (task.view.state === 'assigned') {
            book.requeue(task);
            await brokered.run(task);
          }
          return;
        }
        let accepted: WorkerRun | undefined;
        try {
          accepted = await checks.check(checked, run, canary, []);
        } catch (error) {
          init.onError?.(error, task.view.id);
          accepted = undefined;
        }
        if (accepted === undefined) {
          // The worker's answer was proven wrong (or could not be judged): run it elsewhere, never on that worker.
          book.requeue(task);
          await brokered.run(task, [run.worker]);
          return;
        }
        try {
          await settlement.settle(task, accepted);
        } catch (error) {
          init.onError?.(error, task.view.id);
          if (canTransition(task.view.state, 'failed')) await settlement.fail(task, error);
        }
      } finally {
        deadline.removeEventListener('abort', onDeadline);
        job.finish();
      }
    },

    async submitReceipt(id, bytes, output) {
      const task = book.get(id);
      const job = directJob(task);
      if (job.outcome === 'receipt') {
        if (job.receipt !== undefined && equalBytes(job.receipt, bytes)) {
          await job.finished;
          return task.view;
        }
        throw new DirectPathError('already-answered', 'another receipt was accepted for this task');
      }
      if (job.outcome === 'fallback' || task.view.state !== 'assigned') {
        throw new DirectPathError('direct-closed', `the task went the brokered way; it is ${task.view.state}`);
      }
      if (now() > job.offer.expiresAt + receiptGraceMs) {
        giveUp(job);
        throw new DirectPathError('assignment-expired', 'the receipt came after the deadline; the relay runs the task');
      }
      const run = checkReceipt(task, job, bytes, output);
      job.outcome = 'receipt';
      job.receipt = bytes;
      book.move(task, 'running');
      book.move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
      job.decide(run);
      await job.finished;
      return task.view;
    },

    fallback(id, bytes) {
      const task = book.get(id);
      const read = readFallbackRequest(bytes, verifier);
      if (!read.ok) throw new DirectPathError('invalid-fallback', read.error.message);
      const p = read.value.payload;
      if (p.task !== id || p.net !== ledger.network) {
        throw new DirectPathError('invalid-fallback', 'the fallback request is for another task or network');
      }
      if (read.value.signer !== task.view.requester) {
        throw new DirectPathError('forbidden', 'only the requester may ask for the brokered path');
      }
      unwrap(checkFreshness(p.ts, now()));
      const job = directJob(task);
      if (job.outcome === 'receipt') {
        throw new DirectPathError('already-answered', 'the worker’s receipt was accepted; the result comes from it');
      }
      return Promise.resolve({ task: task.view, created: giveUp(job) });
    },

    giveUp,
  };
}
