/**
 * The relay's ledger: the shared state machine in memory, made durable in a
 * {@link LedgerStore}, with blocks signed by the relay.
 *
 * - `submit` verifies a transaction with the native verifier (the signature
 *   itself on the verifier thread when one is given) and applies it to the
 *   in-memory state, in submission order (so the next submission sees it), then appends
 *   it durably with group commit: submissions arriving within
 *   `commitDelayMs`, or while the previous commit runs, share one store
 *   append (one SQLite transaction and fsync). A submission is acknowledged
 *   only after its append returned.
 * - If an append fails, every submission in it is answered with
 *   {@link CommitFailedError}, the in-memory state goes back to the last
 *   committed one, and submissions still waiting are re-applied on top of it
 *   (each is accepted again or refused with its ledger error). Value is
 *   never created or lost by a fault.
 * - Every `blockIntervalMs`, or as soon as `maxBlockTxs` committed
 *   transactions wait, the relay signs a block over them (RFC 9162 Merkle
 *   root of their bytes), appends it and emits a `block` event.
 * - Queries answer from committed data only: nothing is shown that a crash
 *   could take back.
 * - Unbonding (where the genesis sets `unbondingMs`): an unstake's tokens
 *   stay slashable until the relay releases them. After each block the
 *   service notes that block's time for the unstakes in it (the same
 *   `nextBlockTimes` that chain replay runs); on every block tick it signs a
 *   `tx/release` for each unstake whose period has passed, dated now, and a
 *   block is never dated before a release it holds. So a release lands in the
 *   first block after its period (within `blockIntervalMs`), and replaying
 *   the log checks it against the signed block times.
 */
import { decodeEnvelope, encodeEnvelope, messageId, signingBytes } from '#core/envelope/envelope.ts';
import { Map as ImmutableMap } from 'immutable';
import type { AccountId, BlockHash, TaskId, TxId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { buildBlock } from '#core/ledger/block.ts';
import { nextBlockTimes, type ChainHead } from '#core/ledger/chain.ts';
import type { LedgerError } from '#core/ledger/errors.ts';
import {
  DEFAULT_LEDGER_PARAMS,
  DEFAULT_UNBONDING_MS,
  signGenesis,
  unbondingMsOf,
  type LedgerParams,
} from '#core/ledger/genesis.ts';
import { merkleProofs, type InclusionProof } from '#core/ledger/merkle.ts';
import {
  accountOf,
  applyTransaction,
  type AccountRecord,
  type EscrowRecord,
  type LedgerState,
} from '#core/ledger/state.ts';
import {
  readTransaction,
  signTransaction,
  verifyTransactionEnvelope,
  type ReadTxError,
  type VerifiedTx,
} from '#core/ledger/transaction.ts';
import type { TransactionPayloads, TransactionType } from '#core/messages/transactions.ts';
import { err, ok, type Result } from '#core/result.ts';
import { createAnsweredVerifier } from '#node/crypto/answered-verifier.ts';
import { isAsyncVerifier, type AsyncEd25519Verifier } from '#node/crypto/async-verifier.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import {
  CommitFailedError,
  CorruptLedgerError,
  GenesisMismatchError,
  LedgerNotRunningError,
  SubmitAbortedError,
} from './errors.ts';
import { nextChainHash } from './hash-chain.ts';
import {
  MAX_PAGE,
  type AccountRow,
  type BlockRecord,
  type LedgerStore,
  type StoredTx,
  type TxRecord,
} from './ledger-store.ts';
import { replayStore } from './replay-store.ts';
import { touchedAccounts } from './touched-accounts.ts';

export interface LedgerServiceInit {
  /** Where the ledger is kept. The service owns it from `start()` and closes it in `stop()`. */
  readonly store: LedgerStore;
  /** The relay's key: signs the genesis, blocks and the relay's own transactions. Its account is the network. */
  readonly producer: Signer;
  /**
   * Checks every signature. Default: the native {@link createNodeVerifier}.
   * An {@link AsyncEd25519Verifier} (the relay's verifier thread) checks each
   * submission's own signature off the event loop; the service does not close it.
   */
  readonly verifier?: Ed25519Verifier;
  /**
   * The rules written into a new genesis. Default {@link DEFAULT_LEDGER_PARAMS};
   * without `unbondingMs`, a new genesis gets {@link DEFAULT_UNBONDING_MS}.
   * An existing ledger keeps its genesis rules; if `params` is given and
   * differs from them (`unbondingMs` compared only when given), `start()`
   * throws {@link GenesisMismatchError}.
   */
  readonly params?: LedgerParams;
  /** How often a block is made when transactions wait. Default 2000 ms. */
  readonly blockIntervalMs?: number;
  /** Most transactions per block; a block is made as soon as this many wait. Default 1000 (at most 10,000). */
  readonly maxBlockTxs?: number;
  /** How long a submission waits for others to share its commit. Default 1 ms. */
  readonly commitDelayMs?: number;
  /** Most transactions per commit; a commit starts as soon as this many wait. Default 1000; 1 commits each alone. */
  readonly maxCommitTxs?: number;
  /** The clock for genesis and block times, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

export interface SubmitOptions {
  /** Refuses the submission if aborted before it is accepted; an accepted one is committed or refused as a whole. */
  readonly signal?: AbortSignal;
}

/** An accepted, durable transaction: its id and its position in append order (from 1). */
export interface Submitted {
  readonly id: TxId;
  readonly seq: number;
}

export type SubmitError = ReadTxError | LedgerError | CommitFailedError | LedgerNotRunningError | SubmitAbortedError;

/**
 * What the relay signs for itself: a transaction payload without `v` and
 * `net`, which the service fills in. Byte fields take any `Uint8Array`.
 */
export type RelayPayload<K extends TransactionType> = {
  [P in Exclude<keyof TransactionPayloads[K], 'v' | 'net'>]: TransactionPayloads[K][P] extends Uint8Array
    ? Uint8Array
    : TransactionPayloads[K][P];
};

/** One unstake still unbonding, as the ledger service shows it. */
export interface Unbonding {
  /** The `tx/unstake` it came from. */
  readonly unstake: TxId;
  /** What is left of it: slashes take from it. */
  readonly amount: number;
  /**
   * When it becomes releasable, in ms since the epoch: the time of the block
   * holding the unstake plus the unbonding period; counted from now while no
   * block holds it yet (blocks follow within `blockIntervalMs`). The release
   * itself lands in the first block after this time.
   */
  readonly releaseAt: number;
}

/** A block the service has just appended. */
export interface LedgerBlock {
  readonly height: number;
  readonly id: BlockHash;
  /** The encoded, signed header envelope. */
  readonly header: Uint8Array;
  readonly ts: number;
  readonly txIds: readonly TxId[];
}

/** A light client's proof that a transaction is in a block: check it with the shared `verifyTxInclusion`. */
export interface TxProof {
  readonly height: number;
  /** The encoded, signed block header. */
  readonly header: Uint8Array;
  /** The encoded transaction envelope (the Merkle leaf). */
  readonly tx: Uint8Array;
  readonly proof: InclusionProof;
}

export interface LedgerServiceEvents {
  /** A block was appended. */
  block: CustomEvent<LedgerBlock>;
  /** A block could not be made or a commit failed (the affected submissions are answered too). */
  error: CustomEvent<Error>;
}

export interface ListenerOptions {
  readonly once?: boolean;
  readonly signal?: AbortSignal;
}

export interface LedgerService {
  /**
   * Opens the ledger: writes a genesis into an empty store, otherwise replays
   * and checks everything stored (see `verifyLedger`). Throws
   * {@link CorruptLedgerError} or {@link GenesisMismatchError}; a service
   * starts once.
   */
  start(): Promise<void>;
  /**
   * Commits what waits, makes a final block if transactions are unblocked, and
   * closes the store. Later submissions get {@link LedgerNotRunningError}.
   */
  stop(): Promise<void>;
  /** Verifies, applies and durably appends an encoded transaction envelope. Never rejects. */
  submit(bytes: Uint8Array, options?: SubmitOptions): Promise<Result<Submitted, SubmitError>>;
  /** Signs a transaction as the relay (`producer`) and submits it: grants, escrows, settlements, refunds, slashes. */
  submitSigned<K extends TransactionType>(
    type: K,
    payload: RelayPayload<K>,
    options?: SubmitOptions,
  ): Promise<Result<Submitted, SubmitError>>;
  /** Committed balance of `account` (0 if unknown). */
  balance(account: AccountId): number;
  /** Committed balance, stake, seq, reputation and grant flag of `account`. */
  account(account: AccountId): AccountRecord;
  /** The committed unstakes of `account` still unbonding, oldest first, each with its release time. */
  unbonding(account: AccountId): readonly Unbonding[];
  /** The committed escrow of a task, if any. */
  escrow(task: TaskId): EscrowRecord | undefined;
  /** A committed transaction, with its block once it has one. */
  tx(id: TxId): Promise<StoredTx | undefined>;
  /** Block headers from `fromHeight` (default 1), at most `limit` (default 100, at most 1000). */
  blocks(options?: { readonly fromHeight?: number; readonly limit?: number }): Promise<BlockRecord[]>;
  /** The inclusion proof of a transaction once a block covers it; undefined before that or if unknown. */
  proof(id: TxId): Promise<TxProof | undefined>;
  /** Height of the last block (0 before the first). */
  readonly height: number;
  /** The committed ledger state. Throws {@link LedgerNotRunningError} before `start()`. */
  readonly state: LedgerState;
  /** The ledger rules: the stored genesis's once started, the configured (or default) ones before. */
  readonly params: LedgerParams;
  /** The network id: the producer's account. */
  readonly network: AccountId;
  /**
   * Listens for `block` and `error` events. Listeners run synchronously and
   * must not throw (Node reports a throwing listener as an uncaught exception).
   */
  addEventListener<K extends keyof LedgerServiceEvents>(
    type: K,
    listener: (event: LedgerServiceEvents[K]) => void,
    options?: ListenerOptions,
  ): void;
  removeEventListener<K extends keyof LedgerServiceEvents>(
    type: K,
    listener: (event: LedgerServiceEvents[K]) => void,
  ): void;
}

/** A submission accepted into the in-memory state, waiting for its commit. */
interface Pending {
  readonly tx: VerifiedTx;
  readonly touched: readonly AccountId[];
  /** The speculative state right after this transaction. */
  readonly after: LedgerState;
  readonly resolve: (result: Result<Submitted, SubmitError>) => void;
}

interface CachedBlock {
  readonly header: Uint8Array;
  readonly txs: readonly Uint8Array[];
  proofs?: InclusionProof[];
}

/** Blocks whose transactions are kept for quick proofs. */
const CACHED_BLOCKS = 4;

export function createLedgerService(init: LedgerServiceInit): LedgerService {
  const { store, producer } = init;
  const verifier = init.verifier ?? createNodeVerifier();
  const blockIntervalMs = init.blockIntervalMs ?? 2000;
  const maxBlockTxs = Math.min(init.maxBlockTxs ?? 1000, 10_000);
  const commitDelayMs = init.commitDelayMs ?? 1;
  const maxCommitTxs = Math.max(1, init.maxCommitTxs ?? 1000);
  const now = init.now ?? Date.now;
  const events = new EventTarget();

  let status: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  let stopping: Promise<void> | undefined;
  /** Durable state: what the store holds. */
  let committed: LedgerState | undefined;
  /** Committed state plus every accepted submission not yet committed. */
  let speculative: LedgerState | undefined;
  let head: ChainHead | undefined;
  let chain: ReturnType<typeof nextChainHash>;
  let txCount = 0;
  /** Committed transactions that no block covers yet, in order. */
  const unblocked: TxRecord[] = [];
  let pending: Pending[] = [];
  let commitTimer: ReturnType<typeof setTimeout> | undefined;
  let blockTimer: ReturnType<typeof setInterval> | undefined;
  let draining = false;
  let drained: Promise<void> = Promise.resolve();
  let producing = false;
  let produced: Promise<void> = Promise.resolve();
  let writes: Promise<unknown> = Promise.resolve();
  /** Submissions verified off the event loop are applied one after another, in submission order. */
  let applying: Promise<void> = Promise.resolve();
  const recentBlocks = new Map<number, CachedBlock>();
  /** When the block holding each unbonding unstake was made: what releases are checked against. */
  let blockTimes = ImmutableMap<TxId, number>();
  /** The latest date on a release accepted so far: no block is dated before it. */
  let latestReleaseTs = 0;
  /** Unstakes whose release is being submitted, so that one tick does not sign it twice. */
  const releasing = new Set<TxId>();

  /** Runs store writes one at a time, in call order. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = writes.then(fn);
    writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  function emit<K extends keyof LedgerServiceEvents>(type: K, detail: LedgerServiceEvents[K]['detail']): void {
    events.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async function start(): Promise<void> {
    if (status !== 'new') throw new LedgerNotRunningError(`the ledger service is ${status}; it starts once`);
    status = 'starting';
    try {
      if ((await store.genesis()) === undefined) {
        const params = { unbondingMs: DEFAULT_UNBONDING_MS, ...(init.params ?? DEFAULT_LEDGER_PARAMS) };
        const genesis = await signGenesis(producer, params, now());
        await store.putGenesis(encodeEnvelope(genesis));
      }
      const replay = await replayStore(store, verifier);
      const ledger = replay.ledger;
      if (replay.problems.length > 0 || ledger === undefined) throw new CorruptLedgerError(replay.problems);
      if (ledger.genesis.payload.net !== producer.accountId) {
        throw new GenesisMismatchError(`the stored ledger belongs to network ${ledger.genesis.payload.net}`);
      }
      if (init.params !== undefined && !sameParams(init.params, ledger.genesis.payload.params)) {
        throw new GenesisMismatchError('the stored genesis states other ledger parameters than the configured ones');
      }
      if (stopping !== undefined) throw new LedgerNotRunningError('the ledger service was stopped while starting');
      committed = speculative = ledger.state;
      head = ledger.head;
      chain = ledger.chain;
      txCount = ledger.txCount;
      blockTimes = ledger.blockTimes;
      unblocked.push(...ledger.unblocked.map(({ seq, id, type, bytes, chain }) => ({ seq, id, type, bytes, chain })));
      for (const stored of ledger.unblocked) noteRelease(readTransaction(stored.bytes, verifier));
    } catch (error) {
      if (stopping === undefined) status = 'new';
      throw error;
    }
    status = 'running';
    blockTimer = setInterval(() => {
      void produceBlocks(false);
      releaseDue();
    }, blockIntervalMs);
    blockTimer.unref();
    if (unblocked.length >= maxBlockTxs) void produceBlocks(false);
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      const wasRunning = status === 'running';
      status = 'stopping';
      clearInterval(blockTimer);
      await applying; // submissions still being verified are refused now
      if (wasRunning) {
        while (pending.length > 0 || draining) await flush();
        await produced;
        while (unblocked.length > 0) {
          const before = unblocked.length;
          await produceBlocks(true);
          if (unblocked.length === before) break; // the store refuses blocks; they are made on the next start
        }
      }
      await serial(() => store.close());
      status = 'stopped';
    })();
    return stopping;
  }

  function submit(bytes: Uint8Array, options: SubmitOptions = {}): Promise<Result<Submitted, SubmitError>> {
    const refused = refusal(options);
    if (refused !== undefined) return Promise.resolve(err(refused));
    // Keep a private copy: the caller may reuse its buffer before the commit.
    const copy = Uint8Array.from(bytes);
    if (!isAsyncVerifier(verifier)) return accept(readTransaction(copy, verifier));
    return submitVerifiedElsewhere(copy, options, verifier);
  }

  /**
   * With a verifier thread the event loop goes on while the transaction's
   * signature is checked; the rest of the reading (the same
   * `verifyTransactionEnvelope`, given that answer) and the apply follow in
   * submission order, through the `applying` chain.
   */
  function submitVerifiedElsewhere(
    bytes: Uint8Array,
    options: SubmitOptions,
    threaded: AsyncEd25519Verifier,
  ): Promise<Result<Submitted, SubmitError>> {
    const decoded = decodeEnvelope(bytes);
    if (!decoded.ok) return Promise.resolve(err(decoded.error));
    const envelope = decoded.value;
    const check = {
      signature: envelope.sig,
      message: signingBytes(envelope.type, envelope.body),
      publicKey: envelope.key,
    };
    const valid = threaded.verifyAsync(check.signature, check.message, check.publicKey);
    // Wrapped in an object so that the chain moves on once applied, not once committed.
    const applied = applying.then(async () => {
      const answered = createAnsweredVerifier(check, await valid, verifier);
      const refused = refusal(options);
      return {
        committed: refused
          ? Promise.resolve(err(refused))
          : accept(verifyTransactionEnvelope(envelope, answered, bytes)),
      };
    });
    applying = applied.then(
      () => undefined,
      () => undefined,
    );
    return applied.then(({ committed }) => committed);
  }

  /** Why a submission cannot be accepted now, if it cannot. */
  function refusal(options: SubmitOptions): SubmitAbortedError | LedgerNotRunningError | undefined {
    if (options.signal?.aborted === true) {
      return new SubmitAbortedError('the submission was aborted', { cause: options.signal.reason });
    }
    if (status !== 'running' || speculative === undefined) {
      return new LedgerNotRunningError(`the ledger service is ${status}`);
    }
    return undefined;
  }

  /** Applies a read transaction to the speculative state at once; resolves when its commit is durable. */
  function accept(read: Result<VerifiedTx, ReadTxError>): Promise<Result<Submitted, SubmitError>> {
    if (!read.ok) return Promise.resolve(err(read.error));
    const tx = read.value;
    const state = speculative as LedgerState;
    const next = applyTransaction(state, tx, blockTimes);
    if (!next.ok) return Promise.resolve(err(next.error));
    noteRelease(read);
    const touched = touchedAccounts(state, tx);
    speculative = next.value;
    const after = next.value;
    return new Promise((resolve) => {
      pending.push({ tx, touched, after, resolve });
      scheduleCommit();
    });
  }

  async function submitSigned<K extends TransactionType>(
    type: K,
    payload: RelayPayload<K>,
    options: SubmitOptions = {},
  ): Promise<Result<Submitted, SubmitError>> {
    const full = { v: 1, net: producer.accountId, ...payload } as unknown as TransactionPayloads[K];
    return submit(await signTransaction(producer, type, full), options);
  }

  function scheduleCommit(): void {
    if (draining) return; // the running commit loop takes new submissions next
    if (pending.length >= maxCommitTxs) void flush();
    else commitTimer ??= setTimeout(() => void flush(), commitDelayMs);
  }

  /** Commits everything pending, one group at a time; resolves when nothing is left. */
  function flush(): Promise<void> {
    clearTimeout(commitTimer);
    commitTimer = undefined;
    if (!draining && pending.length > 0) {
      draining = true;
      drained = drain();
    }
    return drained;
  }

  async function drain(): Promise<void> {
    try {
      while (pending.length > 0) {
        const group = pending.splice(0, maxCommitTxs);
        await serial(() => commit(group));
        if (unblocked.length >= maxBlockTxs) void produceBlocks(false);
      }
    } finally {
      draining = false;
    }
  }

  /** Appends one group durably and answers its submissions. Never throws. */
  async function commit(group: readonly Pending[]): Promise<void> {
    const base = committed as LedgerState;
    const last = (group.at(-1) as Pending).after;
    let value = chain;
    const txs = group.map(({ tx }, i): TxRecord => {
      value = nextChainHash(value, tx.id);
      return { seq: txCount + i + 1, id: tx.id, type: tx.type, bytes: tx.bytes, chain: value };
    });
    try {
      await store.appendTxs({ txs, accounts: changedRows(base, last, group) });
    } catch (error) {
      rollBack(group, error);
      return;
    }
    committed = last;
    chain = value;
    txCount += txs.length;
    unblocked.push(...txs);
    for (const [i, entry] of group.entries()) entry.resolve(ok({ id: entry.tx.id, seq: (txs[i] as TxRecord).seq }));
  }

  /** A commit failed: refuse its group, go back to the committed state and re-apply what still waits. */
  function rollBack(group: readonly Pending[], cause: unknown): void {
    const failure = new CommitFailedError('the ledger could not store this transaction; nothing was applied', {
      cause,
    });
    for (const entry of group) entry.resolve(err(failure));
    let state = committed as LedgerState;
    const kept: Pending[] = [];
    for (const entry of pending) {
      const next = applyTransaction(state, entry.tx, blockTimes);
      if (!next.ok) {
        entry.resolve(err(next.error));
        continue;
      }
      kept.push({ ...entry, touched: touchedAccounts(state, entry.tx), after: next.value });
      state = next.value;
    }
    pending = kept;
    speculative = state;
    emit('error', failure);
  }

  /** Makes blocks from committed transactions: one, and more while a full block waits (or until none waits, if `all`). */
  function produceBlocks(all: boolean): Promise<void> {
    if (!producing && unblocked.length > 0) {
      producing = true;
      produced = (async () => {
        try {
          do {
            if (!(await serial(appendNextBlock))) break;
          } while (unblocked.length >= maxBlockTxs || (all && unblocked.length > 0));
        } finally {
          producing = false;
        }
      })();
    }
    return produced;
  }

  /** Signs and appends a block over the oldest unblocked transactions. Never throws; false if it failed. */
  async function appendNextBlock(): Promise<boolean> {
    const records = unblocked.slice(0, maxBlockTxs);
    const first = records[0];
    const previous = head as ChainHead;
    if (first === undefined) return true;
    try {
      const height = previous.height + 1;
      // Never before the previous block (time only goes forward) nor before a release it may hold.
      const ts = Math.max(now(), previous.ts, latestReleaseTs);
      const txs = records.map((r) => r.bytes);
      const block = await buildBlock(producer, { height, prev: previous.id, txs, ts });
      const decoded = decodeEnvelope(block.header);
      if (!decoded.ok) throw decoded.error;
      const id = messageId(decoded.value) as BlockHash;
      await store.appendBlock({ height, id, header: block.header, firstSeq: first.seq, txCount: records.length });
      unblocked.splice(0, records.length);
      head = { id, height, ts, net: previous.net };
      blockTimes = nextBlockTimes(blockTimes, committed as LedgerState, ts, records);
      recentBlocks.set(height, { header: block.header, txs });
      recentBlocks.delete(height - CACHED_BLOCKS);
      emit('block', { height, id, header: block.header, ts, txIds: records.map((r) => r.id) });
      return true;
    } catch (error) {
      emit('error', error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  async function blockTxs(height: number): Promise<CachedBlock | undefined> {
    const cached = recentBlocks.get(height);
    if (cached !== undefined) return cached;
    const [block] = await store.blocks({ fromHeight: height, limit: 1 });
    if (block?.height !== height) return undefined;
    const txs: Uint8Array[] = [];
    while (txs.length < block.txCount) {
      const page = await store.txs({ fromSeq: block.firstSeq + txs.length, limit: MAX_PAGE });
      if (page.length === 0) break;
      txs.push(...page.slice(0, block.txCount - txs.length).map((t) => t.bytes));
    }
    return { header: block.header, txs };
  }

  /** Keeps the latest release date, so that the block holding a release is never dated before it. */
  function noteRelease(read: Result<VerifiedTx, ReadTxError>): void {
    if (read.ok && read.value.type === 'tx/release') {
      latestReleaseTs = Math.max(latestReleaseTs, read.value.message.payload.ts);
    }
  }

  /**
   * Signs a release for every unstake whose unbonding period has passed.
   * Amounts are read from the speculative state, so a slash accepted a moment
   * ago is already taken off; one that races the release makes it fail with
   * `invalid-amount` (or `unknown-unbond`), and the next tick tries again.
   */
  function releaseDue(): void {
    if (status !== 'running' || blockTimes.size === 0) return;
    const unbondingMs = unbondingMsOf(running().params);
    const at = now();
    const due = new Set<TxId>();
    for (const [unstake, since] of blockTimes) {
      if (since + unbondingMs <= at && !releasing.has(unstake)) due.add(unstake);
    }
    if (due.size === 0) return;
    for (const [account, unbonds] of (speculative as LedgerState).unbonding) {
      for (const { tx: unstake, amount } of unbonds) {
        if (!due.has(unstake)) continue;
        releasing.add(unstake);
        const done = (): void => void releasing.delete(unstake);
        submitSigned('tx/release', { account, unstake, amount, ts: at }).then(done, done);
      }
    }
  }

  function unbondingOf(account: AccountId): Unbonding[] {
    const state = running();
    const unbondingMs = unbondingMsOf(state.params);
    return (state.unbonding.get(account) ?? []).map(({ tx, amount }) => ({
      unstake: tx,
      amount,
      releaseAt: (blockTimes.get(tx) ?? now()) + unbondingMs,
    }));
  }

  function running(): LedgerState {
    if (committed === undefined) throw new LedgerNotRunningError('the ledger service is not started');
    return committed;
  }

  return {
    start,
    stop,
    submit,
    submitSigned,
    balance: (account) => accountOf(running(), account).balance,
    account: (account) => accountOf(running(), account),
    unbonding: unbondingOf,
    escrow: (task) => running().escrows.get(task),
    tx: (id) => store.tx(id),
    blocks: ({ fromHeight = 1, limit = 100 } = {}) => store.blocks({ fromHeight, limit }),
    async proof(id) {
      const stored = await store.tx(id);
      if (stored?.block === undefined) return undefined;
      const { height, index } = stored.block;
      const block = await blockTxs(height);
      if (block === undefined) return undefined;
      block.proofs ??= merkleProofs(block.txs);
      const proof = block.proofs[index];
      return proof && { height, header: block.header, tx: stored.bytes, proof };
    },
    get height() {
      return head?.height ?? 0;
    },
    get state() {
      return running();
    },
    get params() {
      return committed?.params ?? init.params ?? DEFAULT_LEDGER_PARAMS;
    },
    get network() {
      return producer.accountId;
    },
    addEventListener(type, listener, options = {}) {
      events.addEventListener(type, listener as (event: Event) => void, options);
    },
    removeEventListener(type, listener) {
      events.removeEventListener(type, listener as (event: Event) => void);
    },
  };
}

/** The account rows a commit changes: touched accounts whose record differs from the committed one. */
function changedRows(base: LedgerState, after: LedgerState, group: readonly Pending[]): AccountRow[] {
  const rows: AccountRow[] = [];
  for (const account of new Set(group.flatMap((entry) => entry.touched))) {
    const record = after.accounts.get(account);
    if (record === undefined || record === base.accounts.get(account)) continue;
    const { balance, stake, seq, reputation, granted } = record;
    rows.push({ account, balance, stake, seq, reputation, granted });
  }
  return rows;
}

/** Whether configured rules `a` agree with a genesis's `b`; an `unbondingMs` that `a` leaves out agrees with any. */
function sameParams(a: LedgerParams, b: LedgerParams): boolean {
  return (
    a.feeBps === b.feeBps &&
    a.grantAmount === b.grantAmount &&
    a.minPowDifficulty === b.minPowDifficulty &&
    a.minWorkerStake === b.minWorkerStake &&
    (a.unbondingMs === undefined || a.unbondingMs === unbondingMsOf(b))
  );
}
