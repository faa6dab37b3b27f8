/**
 * The ledger store in memory, for tests and tools. It enforces the same
 * constraints as the SQLite store and is just as atomic; "durable" here means
 * that a store reopened over the same {@link MemoryLedgerData} sees every
 * completed append.
 */
import type { AccountId, TxId } from '#core/identity/ids.ts';
import { DuplicateTxError, NegativeAccountError, OutOfOrderAppendError, StoreClosedError } from './errors.ts';
import {
  pageLimit,
  type AccountRow,
  type BlockRecord,
  type LedgerStore,
  type StoredTx,
  type TxBatch,
  type TxLocation,
  type TxRecord,
} from './ledger-store.ts';

/** What a memory store holds; pass the same object to reopen a store over it. */
export interface MemoryLedgerData {
  genesis: Uint8Array | undefined;
  readonly txs: TxRecord[];
  readonly blocks: BlockRecord[];
  readonly accounts: Map<AccountId, AccountRow>;
  readonly seqById: Map<TxId, number>;
}

export function createMemoryLedgerData(): MemoryLedgerData {
  return { genesis: undefined, txs: [], blocks: [], accounts: new Map(), seqById: new Map() };
}

export interface MemoryLedgerStoreInit {
  /** The data to open. Default: a fresh, empty {@link createMemoryLedgerData}. */
  readonly data?: MemoryLedgerData;
}

export function createMemoryLedgerStore(init: MemoryLedgerStoreInit = {}): LedgerStore {
  const data = init.data ?? createMemoryLedgerData();
  let closed = false;

  function open(): MemoryLedgerData {
    if (closed) throw new StoreClosedError('the ledger store is closed');
    return data;
  }

  function locate(seq: number): TxLocation | undefined {
    // Blocks cover consecutive ranges in order: binary search on firstSeq.
    let low = 0;
    let high = data.blocks.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const block = data.blocks[mid] as BlockRecord;
      if (seq < block.firstSeq) high = mid - 1;
      else if (seq >= block.firstSeq + block.txCount) low = mid + 1;
      else return { height: block.height, index: seq - block.firstSeq };
    }
    return undefined;
  }

  function stored(record: TxRecord): StoredTx {
    return { ...record, bytes: Uint8Array.from(record.bytes), block: locate(record.seq) };
  }

  return {
    genesis: () =>
      attempt(() => {
        const genesis = open().genesis;
        return genesis && Uint8Array.from(genesis);
      }),

    putGenesis: (bytes) =>
      attempt(() => {
        const d = open();
        if (d.genesis !== undefined) throw new OutOfOrderAppendError('the store already has a genesis');
        d.genesis = Uint8Array.from(bytes);
      }),

    appendTxs: (batch) =>
      attempt(() => {
        appendTxs(batch);
      }),
    appendBlock: (block) =>
      attempt(() => {
        appendBlock(block);
      }),

    tx: (id) =>
      attempt(() => {
        const d = open();
        const seq = d.seqById.get(id);
        const record = seq === undefined ? undefined : d.txs[seq - 1];
        return record && stored(record);
      }),

    txs: ({ fromSeq, limit }) =>
      attempt(() => {
        const start = Math.max(1, Math.floor(fromSeq)) - 1;
        return open()
          .txs.slice(start, start + pageLimit(limit))
          .map(stored);
      }),

    blocks: ({ fromHeight, limit }) =>
      attempt(() => {
        const start = Math.max(1, Math.floor(fromHeight)) - 1;
        const page = open().blocks.slice(start, start + pageLimit(limit));
        return page.map((b) => ({ ...b, header: Uint8Array.from(b.header) }));
      }),

    accounts: ({ after, limit }) =>
      attempt(() => {
        const d = open();
        const ids = [...d.accounts.keys()].filter((id) => after === undefined || id > after).sort();
        return ids.slice(0, pageLimit(limit)).map((id) => ({ ...(d.accounts.get(id) as AccountRow) }));
      }),

    close: () =>
      attempt(() => {
        closed = true;
      }),
  };

  function appendTxs(batch: TxBatch): void {
    const d = open();
    // Check everything first, so a refused batch changes nothing.
    const ids = new Set<TxId>();
    for (const [i, tx] of batch.txs.entries()) {
      if (tx.seq !== d.txs.length + 1 + i) {
        throw new OutOfOrderAppendError(`expected seq ${d.txs.length + 1 + i}, got ${tx.seq}`);
      }
      if (d.seqById.has(tx.id) || ids.has(tx.id)) throw new DuplicateTxError(`transaction ${tx.id} is stored`);
      ids.add(tx.id);
    }
    for (const row of batch.accounts) {
      if (!(row.balance >= 0 && row.stake >= 0)) {
        throw new NegativeAccountError(`account ${row.account} would go negative`);
      }
    }
    for (const tx of batch.txs) {
      d.txs.push({ ...tx, bytes: Uint8Array.from(tx.bytes) });
      d.seqById.set(tx.id, tx.seq);
    }
    for (const row of batch.accounts) d.accounts.set(row.account, { ...row });
  }

  function appendBlock(block: BlockRecord): void {
    const d = open();
    const last = d.blocks.at(-1);
    const nextSeq = last === undefined ? 1 : last.firstSeq + last.txCount;
    if (block.height !== d.blocks.length + 1) {
      throw new OutOfOrderAppendError(`expected block ${d.blocks.length + 1}, got ${block.height}`);
    }
    if (block.firstSeq !== nextSeq || !Number.isSafeInteger(block.txCount) || block.txCount < 0) {
      throw new OutOfOrderAppendError(`block ${block.height} must start at seq ${nextSeq}`);
    }
    if (nextSeq + block.txCount - 1 > d.txs.length) {
      throw new OutOfOrderAppendError(`block ${block.height} covers transactions that are not stored`);
    }
    d.blocks.push({ ...block, header: Uint8Array.from(block.header) });
  }
}

/** Runs `fn` and turns its result or throw into a promise. */
function attempt<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
