/**
 * Tasks on the relay: accept a signed task with its input, check signature,
 * network, freshness, model and price, escrow the price in the ledger, run it
 * (on the relay's own pool), sign the receipt, settle the escrow minus the
 * relay's fee — or refund it when the task is cancelled or keeps failing.
 * Re-submitting a task is idempotent: the relay answers with the task it has.
 */
import { sha256Hex } from '../../shared/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope, type SignedMessage } from '../../shared/envelope/envelope.ts';
import { checkFreshness } from '../../shared/envelope/freshness.ts';
import type { AccountId, Hash, ModelId, TaskId, TxId } from '../../shared/identity/ids.ts';
import type { Ed25519Verifier } from '../../shared/identity/verifier.ts';
import type { Signer } from '../../shared/identity/signer.ts';
import { WrongNetworkError } from '../../shared/ledger/errors.ts';
import { priceOf, type Catalogue, type ModelEntry } from '../../shared/models/catalogue.ts';
import { pipelineFor } from '../../shared/models/tasks/registry.ts';
import type { ReceiptPayload } from '../../shared/messages/receipt.ts';
import {
  decodeCancelPayload,
  decodeTaskPayload,
  type CancelPayload,
  type TaskPayload,
} from '../../shared/messages/task.ts';
import { canTransition, type TaskState } from '../../shared/tasks/task-state.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { InferencePool } from '../pool/inference-pool.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { UnknownModelError } from '../pool/errors.ts';
import {
  ForbiddenError,
  InputMismatchError,
  NotCancellableError,
  PriceTooLowError,
  UnknownTaskError,
} from './errors.ts';
import { unwrap } from '../../shared/result.ts';

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

export interface TaskServiceInit {
  readonly ledger: LedgerService;
  readonly pool: Pick<InferencePool, 'run'>;
  /** Desktop workers connected over libp2p; without one every task runs on the pool. */
  readonly scheduler?: Pick<Scheduler, 'pick' | 'dispatch' | 'workers'>;
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
  readonly onError?: (error: unknown, task: TaskId) => void;
}

interface TaskRecord {
  view: TaskView;
  readonly message: SignedMessage<'task', TaskPayload>;
  /** The encoded signed task, as the requester sent it. */
  readonly bytes: Uint8Array;
  readonly input: Uint8Array;
  readonly entry: ModelEntry;
  output?: Uint8Array;
  receipt?: Uint8Array;
}

export interface TaskService {
  /** Accepts a signed task and its input; resolves once the escrow is durable. Throws typed errors. */
  submit(task: Uint8Array, input: Uint8Array): Promise<{ task: TaskView; created: boolean }>;
  get(id: TaskId): TaskView;
  list(filter?: { readonly account?: AccountId; readonly limit?: number }): TaskView[];
  /** The output and receipt once the task completed. Throws UnknownTaskError, or NotCancellable... never. */
  result(id: TaskId): TaskResult | undefined;
  /** Cancels a task that has not started, with the requester's signed cancel message; refunds the escrow. */
  cancel(id: TaskId, cancel: Uint8Array): Promise<TaskView>;
  /** Refunds escrows left open by an earlier run of the relay (their tasks were lost with it). */
  refundOrphans(): Promise<number>;
  /** Resolves when every running task has finished. */
  idle(): Promise<void>;
}

export function createTaskService(init: TaskServiceInit): TaskService {
  const { ledger, pool, signer, verifier } = init;
  const now = init.now ?? Date.now;
  const maxAttempts = init.maxAttempts ?? 2;
  const maxResults = init.maxResults ?? 1000;
  const workerTimeoutMs = init.workerTimeoutMs ?? 15_000;
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

  /** Runs the task on a staked desktop worker when one has the model, else on the relay's pool. */
  async function runSomewhere(
    task: TaskRecord,
    failedWorkers: AccountId[],
  ): Promise<{ output: Uint8Array; receipt: Uint8Array; outputHash: Hash; units: number; worker: AccountId }> {
    const scheduler = init.scheduler;
    if (scheduler) {
      const unstaked = scheduler
        .workers()
        .filter((w) => ledger.account(w.account).stake < ledger.params.minWorkerStake)
        .map((w) => w.account);
      const worker = scheduler.pick(task.entry, { exclude: [...failedWorkers, ...unstaked] });
      if (worker) {
        move(task, 'assigned', { worker: worker.account });
        move(task, 'running');
        try {
          const done = await scheduler.dispatch(worker, task.bytes, task.input, { timeoutMs: workerTimeoutMs });
          return {
            output: done.output,
            receipt: done.receiptBytes,
            outputHash: done.receipt.payload.output,
            units: done.receipt.payload.units,
            worker: worker.account,
          };
        } catch (error) {
          failedWorkers.push(worker.account);
          throw error;
        }
      }
    }
    move(task, 'assigned', { worker: signer.accountId });
    move(task, 'running');
    const result = await pool.run(task.entry.id, task.input);
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
    return {
      output: result.output,
      receipt,
      outputHash: result.outputHash,
      units: result.units,
      worker: signer.accountId,
    };
  }

  async function execute(task: TaskRecord): Promise<void> {
    const id = task.view.id;
    const failedWorkers: AccountId[] = [];
    let lastError: unknown;
    // Workers that fail do not count against the task: it then runs on the pool.
    for (let attempt = 1; attempt <= maxAttempts + failedWorkers.length; attempt++) {
      try {
        const ran = await runSomewhere(task, failedWorkers);
        task.output = ran.output;
        task.receipt = ran.receipt;
        move(task, 'completed', { outputHash: ran.outputHash, worker: ran.worker });
        // The scheduler checked the worker's signature, task, model and output hash.
        move(task, 'verified');
        const price = Math.min(task.view.maxPrice, priceOf(task.entry, ran.units));
        const settled = unwrap(await ledger.submitSigned('tx/settle', { task: id, receipt: ran.receipt, price }));
        move(task, 'settled', { settleTx: settled.id, price, finishedAt: now() });
        init.events?.completed?.(task.view);
        return;
      } catch (error) {
        lastError = error;
        init.onError?.(error, id);
        if (task.view.state === 'running' || task.view.state === 'assigned') move(task, 'pending');
        if (isInputError(error)) break; // the same input will fail again
      }
    }
    move(task, 'failed', { error: describe(lastError) });
    const refunded = await ledger.submitSigned('tx/refund', { task: id, reason: 'failed' });
    if (refunded.ok) move(task, 'refunded', { refundTx: refunded.value.id, finishedAt: now() });
    init.events?.completed?.(task.view);
  }

  function forget(): void {
    const done = [...tasks.values()].filter((t) => t.output !== undefined);
    for (const task of done.slice(0, Math.max(0, done.length - maxResults))) {
      delete task.output;
      delete task.receipt;
    }
  }

  return {
    async submit(bytes, input) {
      const message = unwrap(readMessage(bytes, 'task', decodeTaskPayload, verifier));
      const existing = tasks.get(message.id as TaskId);
      if (existing) return { task: existing.view, created: false };
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
      const escrow = await ledger.submitSigned('tx/escrow', { task: bytes });
      const again = tasks.get(message.id as TaskId); // a concurrent duplicate got here first
      if (again) return { task: again.view, created: false };
      const escrowed = unwrap(escrow);
      const task: TaskRecord = {
        message,
        bytes,
        input,
        entry,
        view: {
          id: message.id as TaskId,
          requester: message.signer,
          model: entry.id,
          state: 'pending',
          price,
          maxPrice: p.maxPrice,
          units,
          submittedAt: now(),
          finishedAt: undefined,
          escrowTx: escrowed.id,
          settleTx: undefined,
          refundTx: undefined,
          worker: undefined,
          outputHash: undefined,
          error: undefined,
        },
      };
      tasks.set(task.view.id, task);
      init.events?.submitted?.(task.view);
      // Run after this call returns, so a cancel can still reach a pending task.
      const run = Promise.resolve()
        .then(() => (task.view.state === 'pending' ? execute(task) : undefined))
        .catch((error: unknown) => init.onError?.(error, task.view.id))
        .finally(() => {
          running.delete(run);
          forget();
        });
      running.add(run);
      return { task: task.view, created: true };
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
  };
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
