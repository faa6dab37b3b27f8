/**
 * Where the relay's ledger lives on disk: a small storage interface (like
 * automerge-repo's `StorageAdapterInterface`) with two implementations,
 * SQLite for the relay and memory for tests. Both pass the same contract
 * suite (`test/support/ledger-store-contract.ts`).
 *
 * A store is deliberately dumb: it keeps exactly the bytes it is given and
 * enforces only what must hold whatever the in-memory rules say (appends in
 * order, unique transaction ids, no negative balance or stake). Every append
 * is atomic: it is stored whole, or it throws and the store is unchanged.
 */
import type { AccountId, BlockHash, Hash, TxId } from '#core/identity/ids.ts';
import type { TransactionType } from '#core/messages/transactions.ts';

/** A transaction as appended: its exact signed envelope and what is derived from it. */
export interface TxRecord {
  /** Position in append order, from 1, with no gaps. */
  readonly seq: number;
  readonly id: TxId;
  readonly type: TransactionType;
  /** The encoded, signed envelope exactly as received. */
  readonly bytes: Uint8Array;
  /** `sha256(previous chain || raw tx id)`; the chain starts from the raw genesis id. */
  readonly chain: Hash;
}

/** Where a transaction sits in the chain, once a block covers it. */
export interface TxLocation {
  readonly height: number;
  /** Position in the block, from 0. */
  readonly index: number;
}

/** A stored transaction, with its block once it has one. */
export interface StoredTx extends TxRecord {
  readonly block: TxLocation | undefined;
}

/** The derived state of one account after an append. */
export interface AccountRow {
  readonly account: AccountId;
  /** Never negative: stores refuse the append that would make it so. */
  readonly balance: number;
  /** Never negative: stores refuse the append that would make it so. */
  readonly stake: number;
  readonly seq: number;
  readonly reputation: number;
  readonly granted: boolean;
}

/** Transactions appended together, with the account rows they change (the rows' full new values). */
export interface TxBatch {
  readonly txs: readonly TxRecord[];
  readonly accounts: readonly AccountRow[];
}

/**
 * A block: its signed header and the transactions it covers, which are always
 * the next `txCount` unblocked ones in append order, from `firstSeq`.
 */
export interface BlockRecord {
  readonly height: number;
  readonly id: BlockHash;
  /** The encoded, signed header envelope. */
  readonly header: Uint8Array;
  readonly firstSeq: number;
  readonly txCount: number;
}

export interface PageOptions {
  /** Most rows to return. Stores cap it at {@link MAX_PAGE}. */
  readonly limit: number;
}

/** The most rows one page read returns. */
export const MAX_PAGE = 1000;

export interface LedgerStore {
  /** The encoded genesis envelope, or undefined for an empty store. */
  genesis(): Promise<Uint8Array | undefined>;
  /** Stores the genesis envelope. Throws {@link OutOfOrderAppendError} if one is stored already. */
  putGenesis(bytes: Uint8Array): Promise<void>;
  /**
   * Appends transactions and upserts account rows in one atomic, durable write.
   * Throws (and stores nothing) with {@link DuplicateTxError},
   * {@link NegativeAccountError} or {@link OutOfOrderAppendError}.
   */
  appendTxs(batch: TxBatch): Promise<void>;
  /** Appends the next block. Throws {@link OutOfOrderAppendError} (storing nothing) if it does not follow. */
  appendBlock(block: BlockRecord): Promise<void>;
  /** A transaction by id. */
  tx(id: TxId): Promise<StoredTx | undefined>;
  /** Transactions in append order from `fromSeq` (from 1). */
  txs(options: PageOptions & { readonly fromSeq: number }): Promise<StoredTx[]>;
  /** Blocks in height order from `fromHeight` (from 1). */
  blocks(options: PageOptions & { readonly fromHeight: number }): Promise<BlockRecord[]>;
  /** Account rows, ordered by account id, after `after` (exclusive) when given. */
  accounts(options: PageOptions & { readonly after?: AccountId }): Promise<AccountRow[]>;
  /** Releases the store; every later call throws {@link StoreClosedError}. Closing twice is harmless. */
  close(): Promise<void>;
}

/** Clamps a requested page size to 1..{@link MAX_PAGE}. */
export function pageLimit(limit: number): number {
  return Math.max(1, Math.min(MAX_PAGE, Math.floor(Number.isFinite(limit) ? limit : MAX_PAGE)));
}
