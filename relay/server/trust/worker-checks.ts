/**
 * The relay's checks on untrusted workers, between a worker's answer and its
 * settlement:
 *
 * - **Canaries.** At random (`canaryRate` of dispatches), the worker that
 *   gets a real task also gets a task whose answer the relay already knows,
 *   signed by one of the relay's audit accounts: on the wire, one more task.
 *   The real task's result waits for the canary's verdict.
 * - **Re-checks.** A sampled share (`recheckRate`) of worker results is run
 *   again before settlement, by a second worker (as an audit task) or, when
 *   there is none, by the relay's pool. If two workers disagree, the pool
 *   decides.
 *
 * A model whose pipeline checks a claimed answer itself (text generation:
 * one forced pass over the prompt and the claimed pieces, see the pool's
 * `check`) is judged that way instead: a canary needs no known answer, and a
 * re-check no second worker, and each costs about one prefill rather than a
 * whole generation. Every text-generation answer, sampled or not, also has
 * its counts and its ending checked (./text-claims.ts): that needs no model.
 *
 * An answer outside the model's tolerance (see `compareOutputs`), refused by
 * the forced pass, or with wrong counts is a proven mismatch: the worker's
 * stake is slashed by a signed slash transaction whose evidence is its own
 * signed receipt, its reputation drops and it gets no more tasks; its result
 * is never settled (the requester gets the pool's honest one) and its audit
 * task is refunded, not paid. Verified answers raise the worker's reputation.
 */
import { readMessage } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId, TxId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { compareOutputs } from '#core/models/compare-outputs.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { CheckResult, InferencePool } from '#node/pool/inference-pool.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import { mayRun } from '../scheduler/choose-worker.ts';
import type { ReputationBook } from '../scheduler/reputation-book.ts';
import type { WorkerInfo } from '../scheduler/scheduler.ts';
import type { CanaryStore } from './canary-store.ts';
import { isTextGeneration, textClaimFault } from './text-claims.ts';
import type { ComputeKind, TrustTally } from './trust-tally.ts';

/** Why the relay sent a task of its own. */
export type AuditKind = 'canary' | 'recheck';

/** One run of a task's input, with its signed receipt for the task it was run as. */
export interface WorkerRun {
  /** Who ran it: a worker, or the relay for its pool. */
  readonly worker: AccountId;
  readonly output: Uint8Array;
  /** The encoded signed receipt. */
  readonly receipt: Uint8Array;
  readonly outputHash: Hash;
}

/** An audit task under way. */
export interface AuditHandle {
  readonly task: TaskId;
  /** The worker's run, or undefined when it gave none. */
  readonly answer: Promise<WorkerRun | undefined>;
  /** Settles the audit task: paid (true) or refunded (false). Only the first call counts. */
  judge(pay: boolean): void;
}

/** What a canary found: the worker passed, was caught, or nothing was learnt. */
export type CanaryVerdict = 'passed' | 'mismatch' | 'none';

/** A task being checked. */
export interface CheckedTask {
  readonly id: TaskId;
  readonly entry: ModelEntry;
  readonly input: Uint8Array;
}

export interface WorkerChecksInit {
  readonly canaryRate: number;
  readonly recheckRate: number;
  /** Share of a convicted worker's stake its slash takes. */
  readonly slashShare: number;
  readonly random: () => number;
  readonly ledger: Pick<LedgerService, 'account' | 'unbonding' | 'submitSigned' | 'network'>;
  /** Verifies the receipts and requesters' stops the checks read. */
  readonly verifier: Ed25519Verifier;
  readonly reputation: ReputationBook;
  readonly tally: TrustTally;
  readonly catalogue: () => Promise<Catalogue>;
  readonly workers: () => readonly WorkerInfo[];
  readonly canaries: CanaryStore;
  /** Whether the relay has audit accounts to sign audit tasks with. */
  readonly canAudit: boolean;
  /** The best staked worker for `entry`, leaving out `exclude`. */
  pickWorker(entry: ModelEntry, exclude: readonly AccountId[]): WorkerInfo | undefined;
  /** Runs the task on the relay's pool, with the relay's receipt for it. */
  runOnPool(task: TaskId, kind: ComputeKind): Promise<WorkerRun>;
  /**
   * Checks a claimed output on the relay's pool with its pipeline's own
   * checker (text generation: one forced pass); see {@link poolChecker}.
   * Default none: every model is judged against a second run.
   */
  readonly checkOnPool?: ((model: ModelId, input: Uint8Array, claimed: Uint8Array) => Promise<CheckResult>) | undefined;
  /** Who signed task `task` (a real task or an audit task): the only account whose stop may end it early. */
  requesterOf(task: TaskId): AccountId;
  /** Sends `worker` an audit task for `input`; undefined when none can be paid for. */
  startAudit(
    kind: AuditKind,
    worker: AccountId,
    entry: ModelEntry,
    input: Uint8Array,
  ): Promise<AuditHandle | undefined>;
  /** Notes a slash on the task whose answer it punished. */
  recordSlash(task: TaskId, tx: TxId): void;
  /** A check went wrong (never a worker's fault: those are verdicts); `task` is the task being checked. */
  onError(error: unknown, task: TaskId): void;
}

export interface WorkerChecks {
  /** At random, sends `worker` a canary beside `task`; its verdict, or undefined when none was sent. */
  maybeCanary(worker: WorkerInfo, task: CheckedTask): Promise<CanaryVerdict> | undefined;
  /**
   * Judges `run`, a worker's answer to `task`: waits for its canary, and
   * re-checks it when sampled. Returns the run to settle (the worker's, or
   * the pool's when the worker's was wrong), or undefined when the worker was
   * convicted and the task must run elsewhere.
   */
  check(
    task: CheckedTask,
    run: WorkerRun,
    canary: Promise<CanaryVerdict> | undefined,
    failed: readonly AccountId[],
  ): Promise<WorkerRun | undefined>;
}

/** `pool`'s checker of claimed outputs, as {@link WorkerChecksInit.checkOnPool}; undefined when it has none. */
export function poolChecker(pool: Partial<Pick<InferencePool, 'check'>>): WorkerChecksInit['checkOnPool'] {
  const check = pool.check?.bind(pool);
  return check && ((model, input, claimed) => check(model, input, claimed));
}

export function createWorkerChecks(init: WorkerChecksInit): WorkerChecks {
  const { ledger, reputation, tally, random } = init;
  const slashing = new Map<AccountId, Promise<unknown>>();
  const checkOnPool = init.checkOnPool;

  /** Slashes are made one at a time per worker, each taking a share of the stake left. */
  function slash(worker: AccountId, task: TaskId, evidence: Uint8Array): Promise<TxId | undefined> {
    const run = (slashing.get(worker) ?? Promise.resolve()).then(async () => {
      // Stake still unbonding answers for work too: a worker that unstaked right after lying is slashed all the same.
      const unbonding = ledger.unbonding(worker).reduce((total, u) => total + u.amount, 0);
      const stake = ledger.account(worker).stake + unbonding;
      if (stake <= 0) return undefined;
      const amount = Math.min(stake, Math.max(1, Math.floor(stake * init.slashShare)));
      const slashed = await ledger.submitSigned('tx/slash', { worker, task, amount, evidence });
      if (!slashed.ok) {
        init.onError(slashed.error, task);
        return undefined;
      }
      tally.slash(amount);
      return slashed.value.id;
    });
    slashing.set(
      worker,
      run.catch(() => undefined),
    );
    return run;
  }

  /** `worker` answered `task` wrongly, as its signed `receipt` shows. */
  async function convict(worker: AccountId, task: TaskId, receipt: Uint8Array): Promise<void> {
    tally.mismatch();
    reputation.convict(worker);
    const tx = await slash(worker, task, receipt);
    if (tx !== undefined) init.recordSlash(task, tx);
  }

  /**
   * Whether `candidate` gives `reference`'s answer. When the trusted
   * reference cannot be read nothing is proven, and the worker has the
   * benefit of the doubt.
   */
  function matches(task: CheckedTask, reference: Uint8Array, candidate: Uint8Array): boolean {
    const compared = compareOutputs(task.entry, reference, candidate);
    if (!compared.ok) {
      init.onError(compared.error, task.id);
      return true;
    }
    return compared.value.agree;
  }

  /** Whether `entry`'s answers are judged by the pool's checker rather than against a second run. */
  function checkedOnPool(entry: ModelEntry): boolean {
    return checkOnPool !== undefined && pipelineFor(entry.pre)?.check !== undefined;
  }

  /** The pool's verdict on `claimed`, an answer to `input` on `entry`; its run counts as verification for `kind`. */
  async function poolAccepts(entry: ModelEntry, input: Uint8Array, claimed: Uint8Array, kind: ComputeKind) {
    if (checkOnPool === undefined) throw new Error('internal: no checker on the pool');
    const { verdict, runMs } = await checkOnPool(entry.id, input, claimed);
    tally.compute(kind, runMs);
    return verdict.ok;
  }

  /**
   * Whether `run`, an answer to task `id` of `entry` for `input`, has counts
   * or an ending that prove it false (text generation only; see
   * ./text-claims.ts). A receipt that does not verify proves nothing (the
   * paths that bring receipts have verified them already).
   */
  function provenFalse(id: TaskId, entry: ModelEntry, input: Uint8Array, run: WorkerRun): boolean {
    if (!isTextGeneration(entry)) return false;
    const receipt = readMessage(run.receipt, 'receipt', decodeReceiptPayload, init.verifier);
    if (!receipt.ok) {
      init.onError(receipt.error, id);
      return false;
    }
    const claim = {
      entry,
      input,
      task: id,
      requester: init.requesterOf(id),
      network: ledger.network,
      output: run.output,
      receipt: receipt.value.payload,
    };
    return textClaimFault(claim, init.verifier) !== undefined;
  }

  /** A model `worker` advertises that canaries can be made for, when `entry` cannot have them. */
  async function canaryModel(worker: WorkerInfo, entry: ModelEntry): Promise<ModelEntry | undefined> {
    if (init.canaries.supports(entry)) return entry;
    const models = (await init.catalogue()).models.filter((m) => mayRun(worker, m) && init.canaries.supports(m));
    return models[Math.floor(random() * models.length)];
  }

  async function runCanary(worker: WorkerInfo, task: CheckedTask): Promise<CanaryVerdict> {
    const model = await canaryModel(worker, task.entry);
    const known = model && (await init.canaries.take(model, worker.account));
    const audit = model && known && (await init.startAudit('canary', worker.account, model, known.input));
    if (model === undefined || known === undefined || audit === undefined) return 'none';
    try {
      const run = await audit.answer;
      if (run === undefined) {
        tally.canary('no-answer');
        return 'none';
      }
      let agree: boolean;
      if (provenFalse(audit.task, model, known.input, run)) agree = false;
      else if (known.output === undefined || checkedOnPool(model)) {
        agree = await poolAccepts(model, known.input, run.output, 'canary');
      } else {
        const compared = compareOutputs(model, known.output, run.output);
        if (!compared.ok) {
          init.onError(compared.error, task.id);
          audit.judge(true);
          return 'none';
        }
        agree = compared.value.agree;
      }
      if (agree) {
        tally.canary('passed');
        reputation.recordVerified(worker.account);
        audit.judge(true);
        return 'passed';
      }
      tally.canary('mismatch');
      audit.judge(false);
      await convict(worker.account, audit.task, run.receipt);
      return 'mismatch';
    } finally {
      audit.judge(false);
    }
  }

  /**
   * Checks `run` with the pool's forced pass and returns the run to settle:
   * the worker's, or when it was refused the pool's own run of the task.
   */
  async function recheckOnPool(task: CheckedTask, run: WorkerRun): Promise<WorkerRun> {
    if (await poolAccepts(task.entry, task.input, run.output, 'recheck')) {
      tally.recheck('pool', 'agreed');
      reputation.recordVerified(run.worker);
      return run;
    }
    tally.recheck('pool', 'mismatch');
    await convict(run.worker, task.id, run.receipt);
    return init.runOnPool(task.id, 'recheck');
  }

  /** Runs `task` again (a second worker, else the pool) and returns the run to settle. */
  async function recheck(task: CheckedTask, run: WorkerRun, failed: readonly AccountId[]): Promise<WorkerRun> {
    if (checkedOnPool(task.entry)) return recheckOnPool(task, run);
    const second = init.canAudit ? init.pickWorker(task.entry, [run.worker, ...failed]) : undefined;
    const audit = second && (await init.startAudit('recheck', second.account, task.entry, task.input));
    try {
      const theirs = audit && (await audit.answer);
      if (audit === undefined || theirs === undefined) {
        const reference = await init.runOnPool(task.id, 'recheck');
        if (matches(task, reference.output, run.output)) {
          tally.recheck('pool', 'agreed');
          reputation.recordVerified(run.worker);
          return run;
        }
        tally.recheck('pool', 'mismatch');
        await convict(run.worker, task.id, run.receipt);
        return reference;
      }
      const compared = compareOutputs(task.entry, theirs.output, run.output);
      if (compared.ok && compared.value.agree) {
        tally.recheck('worker', 'agreed');
        reputation.recordVerified(run.worker);
        reputation.recordVerified(theirs.worker);
        audit.judge(true);
        return run;
      }
      // Two workers disagree: the relay's own pool decides who lied.
      tally.recheck('worker', 'mismatch');
      const decider = await init.runOnPool(task.id, 'recheck');
      const firstRight = matches(task, decider.output, run.output);
      const secondRight = matches(task, decider.output, theirs.output);
      audit.judge(secondRight);
      if (secondRight) reputation.recordVerified(theirs.worker);
      else await convict(theirs.worker, audit.task, theirs.receipt);
      if (!firstRight) {
        await convict(run.worker, task.id, run.receipt);
        return decider;
      }
      reputation.recordVerified(run.worker);
      return run;
    } finally {
      audit?.judge(false);
    }
  }

  return {
    maybeCanary(worker, task) {
      if (!init.canAudit || init.canaryRate <= 0 || random() >= init.canaryRate) return undefined;
      return runCanary(worker, task).catch((error: unknown) => {
        init.onError(error, task.id);
        return 'none' as const;
      });
    },

    async check(task, run, canary, failed) {
      // Counting is cheap, so every answer of a language model has its counts checked, sampled or not.
      if (provenFalse(task.id, task.entry, task.input, run)) {
        await convict(run.worker, task.id, run.receipt);
        return undefined;
      }
      if (canary !== undefined && (await canary) === 'mismatch') return undefined;
      if (reputation.isConvicted(run.worker)) return undefined;
      const accepted = random() < init.recheckRate ? await recheck(task, run, failed) : run;
      // A canary running beside this task may have convicted the worker meanwhile.
      if (accepted.worker === run.worker && reputation.isConvicted(run.worker)) return undefined;
      return accepted;
    },
  };
}
