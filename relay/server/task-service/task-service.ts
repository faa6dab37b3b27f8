/**
 * Tasks on the relay: accept a signed task with its input, check signature,
 * network, freshness, model and price, escrow the price in the ledger, run it
 * (on a staked desktop worker, else on the relay's own pool), sign the
 * receipt for pool runs, settle the escrow minus the relay's fee — or refund
 * it when the task is cancelled or keeps failing. Re-submitting a task is
 * idempotent: the relay answers with the task it has.
 *
 * Workers are not trusted (see ./worker-checks.ts): a sampled share of their
 * results is re-run before it is settled, known-answer canaries are mixed
 * into their work, and a worker caught with a wrong answer is slashed, stops
 * getting tasks, and is never paid for it; the requester gets and pays for
 * the honest result only. A result is settled only once it has passed every
 * check it was chosen for, and only then can the requester fetch it.
 */
import { randomBytes } from 'node:crypto';
import { equalBytes, sha256Hex } from '#core/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope, type SignedMessage } from '#core/envelope/envelope.ts';
import { checkFreshness } from '#core/envelope/freshness.ts';
import type { AccountId, Hash, ModelId, TaskId, TxId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { Signer } from '#core/identity/signer.ts';
import { WrongNetworkError } from '#core/ledger/errors.ts';
import { priceOf, type Catalogue, type ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { readFallbackRequest, signAssignment } from '#core/messages/assignment.ts';
import { decodeReceiptPayload, type ReceiptPayload } from '#core/messages/receipt.ts';
import {
  decodeCancelPayload,
  decodeTaskPayload,
  TASK_NONCE_BYTES,
  type CancelPayload,
  type TaskPayload,
} from '#core/messages/task.ts';
import { canTransition, type TaskState } from '#core/task-state/task-state.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import { WorkerFailedError } from '../scheduler/errors.ts';
import { createReputationBook, type ReputationBook } from '../scheduler/reputation-book.ts';
import type { Scheduler, WorkerInfo } from '../scheduler/scheduler.ts';
import { UnknownModelError } from '#node/pool/errors.ts';
import { createAuditAccounts } from '../trust/audit-accounts.ts';
import { createCanaryStore, type CanaryStore } from '../trust/canary-store.ts';
import {
  ForbiddenError,
  InputMismatchError,
  NotCancellableError,
  PriceTooLowError,
  UnknownTaskError,
} from './errors.ts';
import { DEFAULT_CANARY_RATE, DEFAULT_RECHECK_RATE } from '../trust/trust-defaults.ts';
import { createTrustTally, type ComputeKind, type TrustTallySnapshot } from '../trust/trust-tally.ts';
import { createWorkerChecks, type AuditKind, type WorkerRun } from '../trust/worker-checks.ts';
import { unwrap } from '#core/result.ts';

export { DEFAULT_CANARY_RATE, DEFAULT_RECHECK_RATE };

/** How a requester wants its task run: through the relay, or on a worker it dials itself over WebRTC. */
export type TaskRoute = 'brokered' | 'direct';

/** Codes of the direct path's refusals (each with its HTTP status on {@link DirectPathError}). */
export type DirectPathErrorCode =
  | 'not-direct'
  | 'direct-closed'
  | 'already-answered'
  | 'assignment-expired'
  | 'bad-receipt'
  | 'wrong-signer'
  | 'output-mismatch'
  | 'worker-unstaked'
  | 'invalid-fallback'
  | 'forbidden';

/** A refused receipt or fallback request on the direct path; nothing changed. */
export class DirectPathError extends Error {
  override readonly name = 'DirectPathError';
  readonly code: DirectPathErrorCode;
  readonly status: number;
  constructor(status: number, code: DirectPathErrorCode, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Where the requester runs a direct task: the worker's libp2p identity, its WebRTC addresses and the relay's signed assignment. */
export interface DirectOffer {
  readonly worker: AccountId;
  readonly addrs: readonly string[];
  /** The relay-signed assignment (see shared/messages/assignment.ts), to send the worker with the task. */
  readonly assignment: Uint8Array;
  /** Until when the worker may start the task; the relay runs it itself once a receipt is this late (plus a grace). */
  readonly expiresAt: number;
}

/** Direct-path options. */
export interface DirectPathInit {
  /** How long an assignment is valid. Default 20 s. */
  readonly assignmentTtlMs?: number;
  /** How long after the expiry a receipt is still taken before the relay runs the task itself. Default 5 s. */
  readonly receiptGraceMs?: number;
}

/** What the API shows of a task. */
export interface TaskView {
  readonly id: TaskId;
  readonly requester: AccountId;
  readonly model: ModelId;
  readonly state: TaskState;
  /** What it costs (escrowed: `maxPrice`; charged on settlement: `price`). */
  readonly price: number;
  readonly maxPrice: number;
  readonly units: number;
  readonly submittedAt: number;
  readonly finishedAt: number | undefined;
  /** Ledger transactions: escrow, then settle or refund. */
  readonly escrowTx: TxId | undefined;
  readonly settleTx: TxId | undefined;
  readonly refundTx: TxId | undefined;
  /** Slashes of workers whose answer to this task was proven wrong. */
  readonly slashTxs: readonly TxId[];
  readonly worker: AccountId | undefined;
  readonly outputHash: Hash | undefined;
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

export interface TaskResult {
  readonly task: TaskView;
  readonly output: Uint8Array;
  /** The worker's encoded, signed receipt envelope. */
  readonly receipt: Uint8Array;
}

export interface TaskEvents {
  readonly submitted: (task: TaskView) => void;
  readonly completed: (task: TaskView) => void;
}

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
  readonly pool: Pick<InferencePool, 'run'>;
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

/** A task on the direct path, waiting for the requester's receipt or fallback. */
interface DirectJob {
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

/** An audit task's link to the check that made it. */
interface AuditJob {
  readonly kind: AuditKind;
  /** The worker it goes to, and only to. */
  readonly worker: AccountId;
  /** Resolves with the worker's run, or undefined when it gave none. */
  readonly answered: (run: WorkerRun | undefined) => void;
  /** Resolves with whether the worker is paid for it. */
  readonly judged: Promise<boolean>;
}

interface TaskRecord {
  view: TaskView;
  readonly message: SignedMessage<'task', TaskPayload>;
  /** The encoded signed task, as the requester sent it. */
  readonly bytes: Uint8Array;
  readonly input: Uint8Array;
  readonly entry: ModelEntry;
  /** Set once settled: only a checked result is ever handed out. */
  output?: Uint8Array;
  receipt?: Uint8Array;
  readonly audit?: AuditJob;
  direct?: DirectJob;
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
  /** Refunds escrows left open by an earlier run of the relay (their tasks were lost with it). */
  refundOrphans(): Promise<number>;
  /** Resolves when every running task has finished. */
  idle(): Promise<void>;
  /** Canaries, re-checks, mismatches, slashes and compute so far. */
  trustTally(): TrustTallySnapshot;
}

export function createTaskService(init: TaskServiceInit): TaskService {
  const { ledger, pool, signer, verifier } = init;
  const now = init.now ?? Date.now;
  const maxAttempts = init.maxAttempts ?? 2;
  const maxResults = init.maxResults ?? 1000;
  const workerTimeoutMs = init.workerTimeoutMs ?? 15_000;
  const assignmentTtlMs = init.direct?.assignmentTtlMs ?? 20_000;
  const receiptGraceMs = init.direct?.receiptGraceMs ?? 5_000;
  const trust = init.trust ?? {};
  const random = trust.random ?? Math.random;
  const reputation =
    trust.reputation ?? createReputationBook({ ledgerReputation: (account) => ledger.account(account).reputation });
  const tally = createTrustTally();
  const tasks = new Map<TaskId, TaskRecord>();
  const running = new Set<Promise<void>>();

  function record(id: TaskId): TaskRecord {
    const task = tasks.get(id);
    if (!task) throw new UnknownTaskError(`no task ${id} on this relay`);
    return task;
  }

  function move(task: TaskRecord, state: TaskState, changes: Partial<TaskView> = {}): void {
    if (!canTransition(task.view.state, state)) {
      throw new Error(`internal: task ${task.view.id} cannot go from ${task.view.state} to ${state}`);
    }
    task.view = { ...task.view, ...changes, state };
  }

  /** Back to pending after a failed or rejected run, so it can run elsewhere. */
  function requeue(task: TaskRecord): void {
    if (canTransition(task.view.state, 'pending')) move(task, 'pending');
  }

  /** Staked workers may be paid; the others get no work. */
  function unstaked(): AccountId[] {
    return (init.scheduler?.workers() ?? [])
      .filter((w) => ledger.account(w.account).stake < ledger.params.minWorkerStake)
      .map((w) => w.account);
  }

  function pickWorker(entry: ModelEntry, exclude: readonly AccountId[]): WorkerInfo | undefined {
    return init.scheduler?.pick(entry, { exclude: [...exclude, ...unstaked()] });
  }

  /** Sends `task` to `worker`; a failure lowers the worker's reputation and is thrown. */
  async function runOnWorker(task: TaskRecord, worker: AccountId, kind: ComputeKind): Promise<WorkerRun> {
    const scheduler = init.scheduler;
    if (scheduler === undefined) throw new Error('internal: no scheduler to dispatch to');
    try {
      const done = await scheduler.dispatch(worker, task.bytes, task.input, { timeoutMs: workerTimeoutMs });
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
  }

  /** Runs `task`'s input on the relay's pool and signs the receipt as the relay. */
  async function runOnPool(task: TaskRecord, kind: ComputeKind): Promise<WorkerRun> {
    const result = await pool.run(task.entry.id, task.input);
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
  }

  /** Pays for `run` (the checked result of `task`) and hands its output to the requester. */
  async function settle(task: TaskRecord, run: WorkerRun): Promise<void> {
    if (task.view.state !== 'completed') move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
    move(task, 'verified', { worker: run.worker, outputHash: run.outputHash });
    // The price counts the units the relay read from the input, not what the worker claims.
    const price = Math.min(task.view.maxPrice, task.view.price);
    const settled = unwrap(await ledger.submitSigned('tx/settle', { task: task.view.id, receipt: run.receipt, price }));
    task.output = run.output;
    task.receipt = run.receipt;
    move(task, 'settled', { settleTx: settled.id, price, finishedAt: now() });
    init.events?.completed?.(task.view);
  }

  async function fail(task: TaskRecord, error: unknown): Promise<void> {
    move(task, 'failed', { error: describe(error) });
    const refunded = await ledger.submitSigned('tx/refund', { task: task.view.id, reason: 'failed' });
    if (refunded.ok) move(task, 'refunded', { refundTx: refunded.value.id, finishedAt: now() });
    init.events?.completed?.(task.view);
  }

  const auditors = createAuditAccounts({
    ledger,
    signers: trust.auditors ?? [],
    random,
    onError: (error) => init.onError?.(error),
  });
  const checks = createWorkerChecks({
    canaryRate: trust.canaryRate ?? DEFAULT_CANARY_RATE,
    recheckRate: trust.recheckRate ?? DEFAULT_RECHECK_RATE,
    slashShare: trust.slashShare ?? 1,
    random,
    ledger,
    reputation,
    tally,
    catalogue: init.catalogue,
    workers: () => init.scheduler?.workers() ?? [],
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
    pickWorker,
    runOnPool: (task, kind) => runOnPool(record(task), kind),
    startAudit,
    recordSlash(task, tx) {
      const target = tasks.get(task);
      if (target !== undefined) target.view = { ...target.view, slashTxs: [...target.view.slashTxs, tx] };
    },
    onError: (error, task) => init.onError?.(error, task),
  });

  /**
   * Runs a task on a worker, with the checks it is chosen for. Returns the
   * run to settle (the worker's, or the pool's honest one when the worker's
   * was wrong), or undefined when the worker's result is rejected and the
   * task must run elsewhere.
   */
  async function runChecked(task: TaskRecord, worker: WorkerInfo, failed: readonly AccountId[]) {
    move(task, 'assigned', { worker: worker.account });
    move(task, 'running');
    const checked = { id: task.view.id, entry: task.entry, input: task.input };
    const canary = checks.maybeCanary(worker, checked);
    const run = await runOnWorker(task, worker.account, 'task');
    move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
    return checks.check(checked, run, canary, failed);
  }

  async function execute(task: TaskRecord, exclude: readonly AccountId[] = []): Promise<void> {
    if (task.audit !== undefined) return executeAudit(task, task.audit);
    const id = task.view.id;
    const failedWorkers: AccountId[] = [...exclude];
    let lastError: unknown;
    // Workers that fail do not count against the task: it then runs on the pool.
    for (let poolAttempts = 0; poolAttempts < maxAttempts;) {
      const worker = pickWorker(task.entry, failedWorkers);
      try {
        let run: WorkerRun | undefined;
        if (worker !== undefined) {
          run = await runChecked(task, worker, failedWorkers);
          if (run === undefined) {
            failedWorkers.push(worker.account);
            requeue(task);
            continue;
          }
        } else {
          poolAttempts++;
          move(task, 'assigned', { worker: signer.accountId });
          move(task, 'running');
          run = await runOnPool(task, 'task');
        }
        await settle(task, run);
        return;
      } catch (error) {
        lastError = error;
        init.onError?.(error, id);
        if (worker !== undefined) failedWorkers.push(worker.account);
        requeue(task);
        // The same input will fail again; and a task past its result (a failed settlement) cannot run again.
        if (isInputError(error) || task.view.state !== 'pending') break;
      }
    }
    if (canTransition(task.view.state, 'failed')) await fail(task, lastError);
  }

  /** An audit task goes to its one worker, whose answer waits for its judge: paid if right, refunded if not. */
  async function executeAudit(task: TaskRecord, job: AuditJob): Promise<void> {
    move(task, 'assigned', { worker: job.worker });
    move(task, 'running');
    let run: WorkerRun;
    try {
      run = await runOnWorker(task, job.worker, job.kind);
    } catch (error) {
      job.answered(undefined);
      await fail(task, error);
      return;
    }
    move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
    job.answered(run);
    if (await job.judged) await settle(task, run);
    else await fail(task, new Error('the answer was proven wrong'));
  }

  /**
   * Signs a task for `input` with one of the relay's audit accounts, escrows
   * it and sends it to `worker` only, like any task. Undefined when no audit
   * account can pay for it.
   */
  async function startAudit(kind: AuditKind, worker: AccountId, entry: ModelEntry, input: Uint8Array) {
    const pipeline = pipelineFor(entry.pre);
    const decoded = pipeline?.decodeInput(input);
    if (pipeline === undefined || decoded?.ok !== true) return undefined;
    const units = pipeline.units(decoded.value);
    const price = priceOf(entry, units);
    // Requesters offer a little over the price as often as not.
    const maxPrice = price + Math.floor(random() * 3) * entry.price.perUnit;
    const auditor = await auditors.pick(maxPrice);
    if (auditor === undefined) return undefined;
    const payload: TaskPayload = {
      v: 1,
      net: ledger.network,
      model: entry.id,
      input: sha256Hex(input) as Hash,
      inputBytes: input.length,
      maxPrice,
      nonce: new Uint8Array(randomBytes(TASK_NONCE_BYTES)),
      ts: now(),
    };
    const bytes = encodeEnvelope(await signEnvelope(auditor, 'task', payload));
    const message = unwrap(readMessage(bytes, 'task', decodeTaskPayload, verifier));
    const answer = deferred<WorkerRun | undefined>();
    const judged = deferred<boolean>();
    const audit = { kind, worker, answered: answer.resolve, judged: judged.promise };
    const created = await accept(message, bytes, input, entry, units, 'brokered', audit);
    if (created === undefined) return undefined;
    return { task: created.view.id, answer: answer.promise, judge: judged.resolve };
  }

  /** Escrows an admitted task and starts running it; undefined when the escrow is refused. */
  async function accept(
    message: SignedMessage<'task', TaskPayload>,
    bytes: Uint8Array,
    input: Uint8Array,
    entry: ModelEntry,
    units: number,
    route: TaskRoute,
    audit?: AuditJob,
  ): Promise<TaskRecord | undefined> {
    // Signed before the escrow, so the task is recorded in one step once escrowed (a duplicate submit finds it).
    const directWorker = route === 'direct' && audit === undefined ? pickDirectWorker(entry) : undefined;
    const direct =
      directWorker === undefined
        ? undefined
        : { worker: directWorker, offer: await signDirectOffer(message.id as TaskId, entry, directWorker) };
    const escrow = await ledger.submitSigned('tx/escrow', { task: bytes });
    if (tasks.has(message.id as TaskId)) return undefined; // a concurrent duplicate got here first
    if (audit !== undefined && !escrow.ok) return undefined;
    const escrowed = unwrap(escrow);
    const task: TaskRecord = {
      message,
      bytes,
      input,
      entry,
      ...(audit === undefined ? {} : { audit }),
      view: {
        id: message.id as TaskId,
        requester: message.signer,
        model: entry.id,
        state: 'pending',
        price: priceOf(entry, units),
        maxPrice: message.payload.maxPrice,
        units,
        submittedAt: now(),
        finishedAt: undefined,
        escrowTx: escrowed.id,
        settleTx: undefined,
        refundTx: undefined,
        slashTxs: [],
        worker: undefined,
        outputHash: undefined,
        error: undefined,
      },
    };
    if (direct !== undefined) assignDirect(task, direct.worker, direct.offer);
    tasks.set(task.view.id, task);
    init.events?.submitted?.(task.view);
    // Run after this call returns, so a cancel can still reach a pending task.
    const run = Promise.resolve()
      .then(() =>
        task.direct !== undefined
          ? runDirect(task, task.direct)
          : task.view.state === 'pending'
            ? execute(task)
            : undefined,
      )
      .catch((error: unknown) => init.onError?.(error, task.view.id))
      .finally(() => {
        running.delete(run);
        forget();
      });
    running.add(run);
    return task;
  }

  /** A worker's WebRTC addresses from its advert: what a requester can dial. */
  function directAddrs(worker: WorkerInfo): string[] {
    return worker.advert.addrs.filter((address) => address.includes('/webrtc'));
  }

  /** The best staked worker for `entry` that a requester can dial over WebRTC. */
  function pickDirectWorker(entry: ModelEntry): WorkerInfo | undefined {
    const unreachable = (init.scheduler?.workers() ?? [])
      .filter((w) => directAddrs(w).length === 0)
      .map((w) => w.account);
    return pickWorker(entry, unreachable);
  }

  /** Marks `task` assigned to `worker` with a relay-signed assignment the requester takes to it. */
  async function signDirectOffer(task: TaskId, entry: ModelEntry, worker: WorkerInfo): Promise<DirectOffer> {
    const at = now();
    const expiresAt = at + assignmentTtlMs;
    const assignment = await signAssignment(signer, {
      v: 1,
      net: ledger.network,
      task,
      model: entry.id,
      worker: worker.account,
      expires: expiresAt,
      ts: at,
    });
    return { worker: worker.account, addrs: directAddrs(worker), assignment, expiresAt };
  }

  /** Marks `task` assigned to the offer's worker (synchronously: nothing can reach the task in between). */
  function assignDirect(task: TaskRecord, worker: WorkerInfo, offer: DirectOffer): void {
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
    move(task, 'assigned', { worker: worker.account });
  }

  /** Sends a waiting direct task the brokered way (fallback, deadline or cancel); false when already decided. */
  function giveUpDirect(job: DirectJob): boolean {
    if (job.outcome !== 'waiting') return false;
    job.outcome = 'fallback';
    job.decide(undefined);
    return true;
  }

  /**
   * A direct task's run: waits for the requester's receipt (or a fallback,
   * or the deadline), then judges and settles the worker's answer like a
   * brokered one, or runs the task brokered.
   */
  async function runDirect(task: TaskRecord, job: DirectJob): Promise<void> {
    const checked = { id: task.view.id, entry: task.entry, input: task.input };
    // The worker gets its canaries on the brokered connection, as on the brokered path.
    const canary = checks.maybeCanary(job.worker, checked);
    const timer = setTimeout(
      () => {
        giveUpDirect(job);
      },
      Math.max(0, job.offer.expiresAt + receiptGraceMs - now()),
    );
    try {
      const run = await job.decision;
      clearTimeout(timer);
      if (run === undefined) {
        // Cancelled meanwhile: the cancel refunded it.
        if (task.view.state === 'assigned') {
          requeue(task);
          await execute(task);
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
        requeue(task);
        await execute(task, [run.worker]);
        return;
      }
      try {
        await settle(task, accepted);
      } catch (error) {
        init.onError?.(error, task.view.id);
        if (canTransition(task.view.state, 'failed')) await fail(task, error);
      }
    } finally {
      clearTimeout(timer);
      job.finish();
    }
  }

  function directJob(task: TaskRecord): DirectJob {
    const job = task.direct;
    if (job === undefined)
      throw new DirectPathError(409, 'not-direct', 'the task was not submitted for the direct path');
    return job;
  }

  /** Checks a receipt for a direct task; throws what is wrong with it. */
  function checkDirectReceipt(task: TaskRecord, job: DirectJob, bytes: Uint8Array, output: Uint8Array): WorkerRun {
    const read = readMessage(bytes, 'receipt', decodeReceiptPayload, verifier);
    if (!read.ok) throw new DirectPathError(400, 'bad-receipt', `the receipt does not verify: ${read.error.message}`);
    const receipt = read.value;
    const p = receipt.payload;
    if (receipt.signer !== job.offer.worker) {
      throw new DirectPathError(
        403,
        'wrong-signer',
        'the receipt is not signed by the worker the task was assigned to',
      );
    }
    // A worker that unstaked since cannot be paid: refused here, the requester falls back, and the escrow stays whole.
    if (ledger.account(receipt.signer).stake < ledger.params.minWorkerStake) {
      throw new DirectPathError(409, 'worker-unstaked', 'the worker no longer holds the stake to be paid');
    }
    if (p.net !== ledger.network || p.task !== task.view.id || p.model !== task.entry.id) {
      throw new DirectPathError(400, 'bad-receipt', 'the receipt names another network, task or model');
    }
    if (p.outputBytes !== output.length || sha256Hex(output) !== p.output) {
      throw new DirectPathError(400, 'output-mismatch', 'the output does not match the hash and size in the receipt');
    }
    tally.compute('task', p.runMs);
    return { worker: receipt.signer, output, receipt: bytes, outputHash: p.output };
  }

  function forget(): void {
    const done = [...tasks.values()].filter((t) => t.output !== undefined);
    for (const task of done.slice(0, Math.max(0, done.length - maxResults))) {
      delete task.output;
      delete task.receipt;
    }
  }

  /** The answer to a submission: with the direct offer while the requester may still use it. */
  function withOffer(task: TaskRecord, created: boolean): { task: TaskView; created: boolean; direct?: DirectOffer } {
    const job = task.direct;
    const open = job?.outcome === 'waiting' && now() <= job.offer.expiresAt;
    return open ? { task: task.view, created, direct: job.offer } : { task: task.view, created };
  }

  return {
    async submit(bytes, input, options = {}) {
      const route = options.route ?? 'brokered';
      const message = unwrap(readMessage(bytes, 'task', decodeTaskPayload, verifier));
      const existing = tasks.get(message.id as TaskId);
      if (existing) return withOffer(existing, false);
      init.admit?.(message.signer);
      const p = message.payload;
      if (p.net !== ledger.network) throw new WrongNetworkError(`this relay is network ${ledger.network}`);
      unwrap(checkFreshness(p.ts, now()));
      const entry = (await init.catalogue()).models.find((m) => m.id === p.model);
      if (!entry) throw new UnknownModelError(`this relay has no model ${p.model}`);
      if (input.length !== p.inputBytes || sha256Hex(input) !== p.input) {
        throw new InputMismatchError('the input bytes do not match the hash and size the task was signed with');
      }
      const pipeline = pipelineFor(entry.pre);
      if (!pipeline) throw new UnknownModelError(`this relay cannot run ${entry.name}: no pipeline ${entry.pre}`);
      const units = pipeline.units(unwrap(pipeline.decodeInput(input)));
      const price = priceOf(entry, units);
      if (p.maxPrice < price) {
        throw new PriceTooLowError(
          `${entry.name} costs ${price} for this input; the task offers at most ${p.maxPrice}`,
        );
      }
      const created = await accept(message, bytes, input, entry, units, route);
      if (created === undefined) return withOffer(record(message.id as TaskId), false);
      return withOffer(created, true);
    },

    async submitReceipt(id, bytes, output) {
      const task = record(id);
      const job = directJob(task);
      if (job.outcome === 'receipt') {
        if (job.receipt !== undefined && equalBytes(job.receipt, bytes)) {
          await job.finished;
          return task.view;
        }
        throw new DirectPathError(409, 'already-answered', 'another receipt was accepted for this task');
      }
      if (job.outcome === 'fallback' || task.view.state !== 'assigned') {
        throw new DirectPathError(409, 'direct-closed', `the task went the brokered way; it is ${task.view.state}`);
      }
      if (now() > job.offer.expiresAt + receiptGraceMs) {
        giveUpDirect(job);
        throw new DirectPathError(
          409,
          'assignment-expired',
          'the receipt came after the deadline; the relay runs the task',
        );
      }
      const run = checkDirectReceipt(task, job, bytes, output);
      job.outcome = 'receipt';
      job.receipt = bytes;
      move(task, 'running');
      move(task, 'completed', { worker: run.worker, outputHash: run.outputHash });
      job.decide(run);
      await job.finished;
      return task.view;
    },

    fallback(id, bytes) {
      const task = record(id);
      const read = readFallbackRequest(bytes, verifier);
      if (!read.ok) throw new DirectPathError(400, 'invalid-fallback', read.error.message);
      const p = read.value.payload;
      if (p.task !== id || p.net !== ledger.network) {
        throw new DirectPathError(400, 'invalid-fallback', 'the fallback request is for another task or network');
      }
      if (read.value.signer !== task.view.requester) {
        throw new DirectPathError(403, 'forbidden', 'only the requester may ask for the brokered path');
      }
      unwrap(checkFreshness(p.ts, now()));
      const job = directJob(task);
      if (job.outcome === 'receipt') {
        throw new DirectPathError(
          409,
          'already-answered',
          'the worker’s receipt was accepted; the result comes from it',
        );
      }
      return Promise.resolve({ task: task.view, created: giveUpDirect(job) });
    },

    get: (id) => record(id).view,

    list(filter = {}) {
      const all = [...tasks.values()].map((t) => t.view).reverse();
      const mine = filter.account === undefined ? all : all.filter((t) => t.requester === filter.account);
      return mine.slice(0, Math.min(filter.limit ?? 100, 1000));
    },

    result(id) {
      const task = record(id);
      return task.output && task.receipt ? { task: task.view, output: task.output, receipt: task.receipt } : undefined;
    },

    async cancel(id, bytes) {
      const task = record(id);
      const cancel: SignedMessage<'task/cancel', CancelPayload> = unwrap(
        readMessage(bytes, 'task/cancel', decodeCancelPayload, verifier),
      );
      if (cancel.payload.task !== id || cancel.payload.net !== ledger.network) {
        throw new ForbiddenError('the cancel message is for another task or network');
      }
      if (cancel.signer !== task.view.requester) throw new ForbiddenError('only the requester may cancel a task');
      unwrap(checkFreshness(cancel.payload.ts, now()));
      if (!canTransition(task.view.state, 'cancelled')) {
        throw new NotCancellableError(
          `the task is ${task.view.state}; only a task that has not started can be cancelled`,
        );
      }
      move(task, 'cancelled');
      // A direct task waiting for its receipt stops waiting (its run sees the cancel and does nothing).
      if (task.direct !== undefined) giveUpDirect(task.direct);
      const refunded = unwrap(await ledger.submitSigned('tx/refund', { task: id, reason: 'cancelled' }));
      move(task, 'refunded', { refundTx: refunded.id, finishedAt: now() });
      init.events?.completed?.(task.view);
      return task.view;
    },

    async refundOrphans() {
      let count = 0;
      for (const [id, escrow] of ledger.state.escrows) {
        if (escrow.status !== 'open' || tasks.has(id)) continue;
        const refunded = await ledger.submitSigned('tx/refund', { task: id, reason: 'expired' });
        if (refunded.ok) count++;
      }
      return count;
    },

    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },

    trustTally: () => tally.snapshot(),
  };
}

/** A promise and its resolver (the only way to settle it; a second call does nothing). */
function deferred<T>(): { readonly promise: Promise<T>; readonly resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

function isInputError(error: unknown): boolean {
  return error instanceof Error && error.name === 'InvalidModelInputError';
}

function describe(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' ? code : 'internal',
    message: error instanceof Error ? error.message : 'the task failed',
  };
}
