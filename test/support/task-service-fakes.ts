/**
 * Fakes for the unit tests of the relay's task service and trust checks: a
 * ledger that answers from memory, a pool and a scheduler whose answers the
 * test writes, a clock that moves only when told, a language-id model entry
 * with its outputs, and signed tasks and receipts. Nothing here starts a
 * process, a thread or a socket.
 */
import { sha256Hex } from '#core/encoding/bytes.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId, TxId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import type { LedgerParams } from '#core/ledger/genesis.ts';
import type { AccountRecord, EscrowRecord, LedgerState } from '#core/ledger/state.ts';
import type { TransactionType } from '#core/messages/transactions.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { decodeReceiptPayload, type ReceiptPayload } from '#core/messages/receipt.ts';
import { decodeTaskPayload, type TaskPayload } from '#core/messages/task.ts';
import { presetAllocation } from '#core/resources/allocation.ts';
import { languageIdPipeline } from '#core/pipelines/language-id/pipeline.ts';
import type { LanguageCode } from '#core/pipelines/language-id/labels.ts';
import { err, ok, type Result } from '#core/result.ts';
import type { InferenceResult } from '#node/pool/inference-pool.ts';
import type { SubmitError, Submitted, Unbonding } from '#server/ledger/ledger-service.ts';
import type {
  DispatchOptions,
  DispatchResult,
  PickOptions,
  Scheduler,
  WorkerInfo,
} from '#server/scheduler/scheduler.ts';
import { mayRun } from '#server/scheduler/choose-worker.ts';
import type { TaskRecord } from '#server/task-service/task-book.ts';
import { signerFor, T0, TEST_PARAMS } from './network.ts';

export { nobleVerifier as verifier };

/** A clock that moves only when told. */
export interface FakeClock {
  readonly now: () => number;
  advance(ms: number): void;
}

export function fakeClock(start = T0): FakeClock {
  let at = start;
  return {
    now: () => at,
    advance(ms) {
      at += ms;
    },
  };
}

/** A language-id model the pipelines know, priced at 10 per text. */
export function languageEntry(overrides: Partial<ModelEntry> = {}): ModelEntry {
  return {
    id: sha256Hex(new TextEncoder().encode('fake language-id model')) as ModelId,
    name: 'Language ID',
    version: '1',
    kind: 'language-id',
    description: 'a stand-in entry',
    bytes: 1000,
    assets: [],
    inputs: [],
    outputs: [],
    pre: 'language-id',
    post: 'language-id',
    price: { perUnit: 10, unit: 'text' },
    sizeClass: 'phone',
    tolerance: { measure: 'top1' },
    license: { spdx: 'MIT', source: 'test' },
    metrics: {},
    ...overrides,
  };
}

/** A canonical language-id answer naming `label` first, with a clear lead over `runnerUp`. */
export function languageOutput(
  label: LanguageCode,
  runnerUp: LanguageCode = label === 'eng' ? 'fra' : 'eng',
): Uint8Array {
  return languageIdPipeline.encodeOutput({
    label,
    confidence: 0.9,
    top: [
      { label, p: 0.9 },
      { label: runnerUp, p: 0.05 },
    ],
  });
}

export const TEXT = new TextEncoder().encode('The night train reaches the station tomorrow morning.');

/** One submission to the fake ledger. */
export interface LedgerCall {
  readonly type: TransactionType;
  readonly payload: Record<string, unknown>;
  readonly id: TxId;
}

export interface FakeLedger {
  readonly network: AccountId;
  readonly params: LedgerParams;
  account(account: AccountId): AccountRecord;
  /** Nothing is ever unbonding here. */
  unbonding(account: AccountId): readonly Unbonding[];
  submitSigned(type: TransactionType, payload: object): Promise<Result<Submitted, SubmitError>>;
  readonly state: LedgerState;
  /** Every accepted submission, in order. */
  readonly calls: LedgerCall[];
  /** Sets the balance, stake or reputation of an account. */
  set(account: AccountId, record: Partial<AccountRecord>): void;
  /** Refuses submissions of `type` with `error` until cleared (undefined). */
  refuse(type: TransactionType, error: SubmitError | undefined): void;
  /** Open escrows the ledger reports (for orphan refunds). */
  readonly escrows: Map<TaskId, EscrowRecord>;
  /** The submissions of `type`. */
  of(type: TransactionType): LedgerCall[];
}

export function fakeLedger(network: Signer = signerFor('relay'), params: LedgerParams = TEST_PARAMS): FakeLedger {
  const accounts = new Map<AccountId, AccountRecord>();
  const refusals = new Map<TransactionType, SubmitError>();
  const escrows = new Map<TaskId, EscrowRecord>();
  const calls: LedgerCall[] = [];
  let seq = 0;
  const blank: AccountRecord = { balance: 0, stake: 0, seq: 0, reputation: 500, granted: false };
  return {
    network: network.accountId,
    params,
    account: (account) => accounts.get(account) ?? blank,
    unbonding: () => [],
    submitSigned(type, payload) {
      const refusal = refusals.get(type);
      if (refusal !== undefined) return Promise.resolve(err(refusal));
      seq++;
      const id = sha256Hex(new TextEncoder().encode(`tx ${seq}`)) as TxId;
      calls.push({ type, payload: payload as Record<string, unknown>, id });
      return Promise.resolve(ok({ id, seq }));
    },
    state: { escrows } as unknown as LedgerState,
    calls,
    set(account, record) {
      accounts.set(account, { ...(accounts.get(account) ?? blank), ...record });
    },
    refuse(type, error) {
      if (error === undefined) refusals.delete(type);
      else refusals.set(type, error);
    },
    escrows,
    of: (type) => calls.filter((c) => c.type === type),
  };
}

/** A pool that answers with `answer` (default: English) and counts its runs. */
export interface FakePool {
  run(model: ModelId, input: Uint8Array): Promise<InferenceResult>;
  readonly runs: { readonly model: ModelId; readonly input: Uint8Array }[];
  /** What the next runs answer: bytes, or an error to throw. */
  answer: (input: Uint8Array) => Uint8Array | Error;
}

export function fakePool(): FakePool {
  const pool: FakePool = {
    runs: [],
    answer: () => languageOutput('eng'),
    run(model, input) {
      pool.runs.push({ model, input });
      const output = pool.answer(input);
      if (output instanceof Error) return Promise.reject(output);
      return Promise.resolve({
        output,
        outputHash: sha256Hex(output) as Hash,
        units: 1,
        runMs: 7,
        backend: 'native',
        threads: 1,
      });
    },
  };
  return pool;
}

/** What a fake worker does with a dispatched task: answers bytes, or throws. */
export type FakeAnswer = (task: { readonly id: TaskId; readonly payload: TaskPayload }) => Uint8Array | Error;

export interface FakeWorker {
  readonly signer: Signer;
  info: WorkerInfo;
  answer: FakeAnswer;
}

/** A worker that runs the language model and answers English, reachable over WebRTC unless `addrs` says otherwise. */
export function fakeWorker(name: string, entry: ModelEntry, overrides: Partial<WorkerInfo['advert']> = {}): FakeWorker {
  const signer = signerFor(`worker ${name}`);
  return {
    signer,
    answer: () => languageOutput('eng'),
    info: {
      account: signer.accountId,
      advert: {
        v: 1,
        net: signerFor('relay').accountId,
        models: [entry.id],
        backend: 'native',
        allocation: presetAllocation('balanced'),
        pricePerUnit: 1,
        addrs: ['/ip4/127.0.0.1/udp/1/webrtc-direct'],
        seq: 1,
        ts: T0,
        ...overrides,
      },
      advertBytes: new Uint8Array(0),
      receivedAt: T0,
      sizeClass: 'desktop',
      inFlight: 0,
      latencyMs: undefined,
      completed: 0,
      failures: 0,
      consecutiveFailures: 0,
      lastFailure: undefined,
    },
  };
}

export interface FakeScheduler extends Pick<Scheduler, 'pick' | 'dispatch' | 'workers' | 'hold'> {
  readonly fleet: FakeWorker[];
  /** Every dispatch: to whom, for which task. */
  readonly dispatched: { readonly worker: AccountId; readonly task: TaskId; readonly timeoutMs: number | undefined }[];
  /** Accounts held now (direct tasks counted in their load). */
  readonly held: AccountId[];
}

/** A scheduler over `fleet` that picks the first worker allowed, and answers dispatches with the worker's signed receipt. */
export function fakeScheduler(fleet: FakeWorker[], network: AccountId = signerFor('relay').accountId): FakeScheduler {
  const dispatched: FakeScheduler['dispatched'] = [];
  const held: AccountId[] = [];
  const find = (account: AccountId): FakeWorker => {
    const worker = fleet.find((w) => w.info.account === account);
    if (worker === undefined) throw new Error(`no fake worker ${account}`);
    return worker;
  };
  return {
    fleet,
    dispatched,
    held,
    workers: () => fleet.map((w) => w.info),
    pick(entry: ModelEntry, options: PickOptions = {}) {
      const exclude = new Set(options.exclude ?? []);
      return fleet.map((w) => w.info).find((w) => !exclude.has(w.account) && mayRun(w, entry));
    },
    hold(account) {
      held.push(account);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held.splice(held.indexOf(account), 1);
      };
    },
    async dispatch(
      to: WorkerInfo | AccountId,
      task: Uint8Array,
      _input: Uint8Array,
      options: DispatchOptions = {},
    ): Promise<DispatchResult> {
      const worker = find(typeof to === 'string' ? to : to.account);
      const message = readMessage(task, 'task', decodeTaskPayload, nobleVerifier);
      if (!message.ok) throw message.error;
      const id = message.value.id as TaskId;
      dispatched.push({ worker: worker.info.account, task: id, timeoutMs: options.timeoutMs });
      const output = worker.answer({ id, payload: message.value.payload });
      if (output instanceof Error) throw output;
      const receiptBytes = await signReceipt(worker.signer, network, id, message.value.payload.model, output);
      const receipt = readMessage(receiptBytes, 'receipt', decodeReceiptPayload, nobleVerifier);
      if (!receipt.ok) throw receipt.error;
      return { receipt: receipt.value, receiptBytes, output, elapsedMs: 11 };
    },
  };
}

/** `worker`'s signed receipt (encoded) for `output` of task `task`. */
export async function signReceipt(
  worker: Signer,
  network: AccountId,
  task: TaskId,
  model: ModelId,
  output: Uint8Array,
  overrides: Partial<ReceiptPayload> = {},
): Promise<Uint8Array> {
  const payload: ReceiptPayload = {
    v: 1,
    net: network,
    task,
    model,
    output: sha256Hex(output) as Hash,
    outputBytes: output.length,
    units: 1,
    backend: 'native',
    runMs: 9,
    ts: T0,
    ...overrides,
  };
  return encodeEnvelope(await signEnvelope(worker, 'receipt', payload));
}

let nonceCounter = 0;

/** A task for `input` on `entry`, signed by `requester`: its encoded bytes and verified message. */
export async function signTask(
  requester: Signer,
  entry: ModelEntry,
  input: Uint8Array = TEXT,
  overrides: Partial<TaskPayload> = {},
  network: AccountId = signerFor('relay').accountId,
): Promise<{ bytes: Uint8Array; message: TaskRecord['message']; id: TaskId }> {
  nonceCounter++;
  const nonce = new Uint8Array(16);
  new DataView(nonce.buffer).setUint32(0, nonceCounter);
  const payload: TaskPayload = {
    v: 1,
    net: network,
    model: entry.id,
    input: sha256Hex(input) as Hash,
    inputBytes: input.length,
    maxPrice: 30,
    nonce,
    ts: T0,
    ...overrides,
  };
  const bytes = encodeEnvelope(await signEnvelope(requester, 'task', payload));
  const message = readMessage(bytes, 'task', decodeTaskPayload, nobleVerifier);
  if (!message.ok) throw message.error;
  return { bytes, message: message.value, id: message.value.id as TaskId };
}

/** A pending task record for `input` on `entry`, as admission would make it. */
export async function pendingTask(
  requester: Signer,
  entry: ModelEntry,
  input: Uint8Array = TEXT,
  overrides: Partial<TaskPayload> = {},
): Promise<TaskRecord> {
  const { bytes, message, id } = await signTask(requester, entry, input, overrides);
  return {
    message,
    bytes,
    input,
    entry,
    view: {
      id,
      requester: requester.accountId,
      model: entry.id,
      state: 'pending',
      price: entry.price.perUnit,
      maxPrice: message.payload.maxPrice,
      units: 1,
      submittedAt: T0,
      finishedAt: undefined,
      escrowTx: sha256Hex(new TextEncoder().encode(`escrow ${id}`)) as TxId,
      settleTx: undefined,
      refundTx: undefined,
      slashTxs: [],
      worker: undefined,
      outputHash: undefined,
      error: undefined,
    },
  };
}

/** Resolves after every queued microtask and promise callback has run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
