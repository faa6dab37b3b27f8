/**
 * The relay's ledger store in SQLite (better-sqlite3).
 *
 * - WAL with `synchronous=FULL`: a returned append has been fsynced, so it
 *   survives a crash of the process or of the machine.
 * - One SQLite transaction per append: a batch of transactions and the
 *   account rows it changes are stored together or not at all.
 * - The `accounts` table has `CHECK (balance >= 0)` and `CHECK (stake >= 0)`
 *   and is written in the same transaction as the append, so not even a bug
 *   in the in-memory rules can make a negative balance durable.
 * - Signed envelopes are stored exactly as received, with a running hash
 *   chain column and a unique index on the transaction id.
 *
 * better-sqlite3 is synchronous; the methods return promises to fit the
 * {@link LedgerStore} interface, and each completes before it returns.
 */
import Database from 'better-sqlite3';
import type { AccountId, BlockHash, Hash, TxId } from '#core/identity/ids.ts';
import type { TransactionType } from '#core/messages/transactions.ts';
import { DuplicateTxError, NegativeAccountError, OutOfOrderAppendError, StoreClosedError } from './errors.ts';
import {
  pageLimit,
  type AccountRow,
  type BlockRecord,
  type LedgerStore,
  type StoredTx,
  type TxBatch,
  type TxLocation,
} from './ledger-store.ts';

export interface SqliteLedgerStoreInit {
  /** The database file; created with its tables when missing. */
  readonly path: string;
}

/** The schema version kept in `PRAGMA user_version`. */
export const LEDGER_SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS txs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    bytes BLOB NOT NULL,
    chain TEXT NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX IF NOT EXISTS txs_by_id ON txs (id);
  CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    header BLOB NOT NULL,
    first_seq INTEGER NOT NULL,
    tx_count INTEGER NOT NULL CHECK (tx_count >= 0)
  ) STRICT;
  CREATE INDEX IF NOT EXISTS blocks_by_first_seq ON blocks (first_seq);
  CREATE TABLE IF NOT EXISTS accounts (
    account TEXT PRIMARY KEY,
    balance INTEGER NOT NULL CHECK (balance >= 0),
    stake INTEGER NOT NULL CHECK (stake >= 0),
    seq INTEGER NOT NULL,
    reputation INTEGER NOT NULL,
    granted INTEGER NOT NULL CHECK (granted IN (0, 1))
  ) STRICT, WITHOUT ROWID;
`;

interface TxRow {
  seq: number;
  id: string;
  type: string;
  bytes: Buffer;
  chain: string;
}
interface BlockRow {
  height: number;
  id: string;
  header: Buffer;
  first_seq: number;
  tx_count: number;
}
interface AccountSqlRow {
  account: string;
  balance: number;
  stake: number;
  seq: number;
  reputation: number;
  granted: number;
}

/** Opens (creating if needed) the ledger database at `init.path`. */
export function createSqliteLedgerStore(init: SqliteLedgerStoreInit): LedgerStore {
  const db = new Database(init.path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(SCHEMA);
    db.pragma(`user_version = ${LEDGER_SCHEMA_VERSION}`);
  } catch (error) {
    db.close();
    throw error;
  }

  const q = {
    genesis: db.prepare<[], { value: Buffer }>("SELECT value FROM meta WHERE key = 'genesis'"),
    putGenesis: db.prepare<[Uint8Array]>("INSERT INTO meta (key, value) VALUES ('genesis', ?)"),
    lastSeq: db.prepare<[], { n: number }>('SELECT COALESCE(MAX(seq), 0) AS n FROM txs'),
    insertTx: db.prepare<[number, string, string, Uint8Array, string]>(
      'INSERT INTO txs (seq, id, type, bytes, chain) VALUES (?, ?, ?, ?, ?)',
    ),
    upsertAccount: db.prepare<[string, number, number, number, number, number]>(
      `INSERT INTO accounts (account, balance, stake, seq, reputation, granted) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (account) DO UPDATE SET balance = excluded.balance, stake = excluded.stake,
         seq = excluded.seq, reputation = excluded.reputation, granted = excluded.granted`,
    ),
    lastBlock: db.prepare<[], BlockRow>('SELECT * FROM blocks ORDER BY height DESC LIMIT 1'),
    insertBlock: db.prepare<[number, string, Uint8Array, number, number]>(
      'INSERT INTO blocks (height, id, header, first_seq, tx_count) VALUES (?, ?, ?, ?, ?)',
    ),
    txById: db.prepare<[string], TxRow>('SELECT seq, id, type, bytes, chain FROM txs WHERE id = ?'),
    txsFrom: db.prepare<[number, number], TxRow>(
      'SELECT seq, id, type, bytes, chain FROM txs WHERE seq >= ? ORDER BY seq LIMIT ?',
    ),
    // The block holding `seq` is the last one starting at or before it, if it reaches that far.
    blockAt: db.prepare<[number], BlockRow>(
      'SELECT * FROM blocks WHERE first_seq <= ? ORDER BY first_seq DESC, height DESC LIMIT 1',
    ),
    blocksStartingIn: db.prepare<[number, number], BlockRow>(
      'SELECT * FROM blocks WHERE first_seq > ? AND first_seq <= ? ORDER BY first_seq',
    ),
    blocksFrom: db.prepare<[number, number], BlockRow>(
      'SELECT * FROM blocks WHERE height >= ? ORDER BY height LIMIT ?',
    ),
    accountsAfter: db.prepare<[string, number], AccountSqlRow>(
      'SELECT * FROM accounts WHERE account > ? ORDER BY account LIMIT ?',
    ),
  };

  const appendTxs = db.transaction((batch: TxBatch) => {
    const last = (q.lastSeq.get() as { n: number }).n;
    for (const [i, tx] of batch.txs.entries()) {
      if (tx.seq !== last + 1 + i) throw new OutOfOrderAppendError(`expected seq ${last + 1 + i}, got ${tx.seq}`);
      q.insertTx.run(tx.seq, tx.id, tx.type, tx.bytes, tx.chain);
    }
    for (const row of batch.accounts) {
      q.upsertAccount.run(row.account, row.balance, row.stake, row.seq, row.reputation, row.granted ? 1 : 0);
    }
  });

  const appendBlock = db.transaction((block: BlockRecord) => {
    const last = q.lastBlock.get();
    const height = (last?.height ?? 0) + 1;
    const nextSeq = last === undefined ? 1 : last.first_seq + last.tx_count;
    if (block.height !== height) throw new OutOfOrderAppendError(`expected block ${height}, got ${block.height}`);
    if (block.firstSeq !== nextSeq || !Number.isSafeInteger(block.txCount) || block.txCount < 0) {
      throw new OutOfOrderAppendError(`block ${block.height} must start at seq ${nextSeq}`);
    }
    if (nextSeq + block.txCount - 1 > (q.lastSeq.get() as { n: number }).n) {
      throw new OutOfOrderAppendError(`block ${block.height} covers transactions that are not stored`);
    }
    q.insertBlock.run(block.height, block.id, block.header, block.firstSeq, block.txCount);
  });

  function open(): void {
    if (!db.open) throw new StoreClosedError('the ledger store is closed');
  }

  /** Block locations of the transactions `fromSeq..toSeq`, keyed by seq. */
  function locate(fromSeq: number, toSeq: number): (seq: number) => TxLocation | undefined {
    const blocks: BlockRow[] = [];
    const first = q.blockAt.get(fromSeq);
    if (first !== undefined) blocks.push(first);
    blocks.push(...q.blocksStartingIn.all(fromSeq, toSeq));
    return (seq) => {
      const block = blocks.findLast((b) => b.first_seq <= seq);
      return block !== undefined && seq < block.first_seq + block.tx_count
        ? { height: block.height, index: seq - block.first_seq }
        : undefined;
    };
  }

  function storedTx(row: TxRow, location: TxLocation | undefined): StoredTx {
    return {
      seq: row.seq,
      id: row.id as TxId,
      type: row.type as TransactionType,
      bytes: bytesOf(row.bytes),
      chain: row.chain as Hash,
      block: location,
    };
  }

  return {
    genesis: () =>
      attempt(() => {
        open();
        const row = q.genesis.get();
        return row === undefined ? undefined : bytesOf(row.value);
      }),

    putGenesis: (bytes) =>
      attempt(() => {
        open();
        try {
          q.putGenesis.run(bytes);
        } catch (error) {
          throw storeError(error, 'the store already has a genesis');
        }
      }),

    appendTxs: (batch) =>
      attempt(() => {
        open();
        try {
          appendTxs.immediate(batch);
        } catch (error) {
          throw storeError(error, 'transactions out of order');
        }
      }),

    appendBlock: (block) =>
      attempt(() => {
        open();
        try {
          appendBlock.immediate(block);
        } catch (error) {
          throw storeError(error, `block ${block.height} is stored already`);
        }
      }),

    tx: (id) =>
      attempt(() => {
        open();
        const row = q.txById.get(id);
        return row === undefined ? undefined : storedTx(row, locate(row.seq, row.seq)(row.seq));
      }),

    txs: ({ fromSeq, limit }) =>
      attempt(() => {
        open();
        const rows = q.txsFrom.all(Math.max(1, Math.floor(fromSeq)), pageLimit(limit));
        const first = rows[0];
        const last = rows.at(-1);
        if (first === undefined || last === undefined) return [];
        const at = locate(first.seq, last.seq);
        return rows.map((row) => storedTx(row, at(row.seq)));
      }),

    blocks: ({ fromHeight, limit }) =>
      attempt(() => {
        open();
        return q.blocksFrom.all(Math.max(1, Math.floor(fromHeight)), pageLimit(limit)).map((row) => ({
          height: row.height,
          id: row.id as BlockHash,
          header: bytesOf(row.header),
          firstSeq: row.first_seq,
          txCount: row.tx_count,
        }));
      }),

    accounts: ({ after, limit }) =>
      attempt(() => {
        open();
        return q.accountsAfter.all(after ?? '', pageLimit(limit)).map((row): AccountRow => ({
          account: row.account as AccountId,
          balance: row.balance,
          stake: row.stake,
          seq: row.seq,
          reputation: row.reputation,
          granted: row.granted === 1,
        }));
      }),

    close: () =>
      attempt(() => {
        if (db.open) db.close();
      }),
  };
}

/** A plain Uint8Array view of a Buffer from SQLite (no copy). */
function bytesOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Maps SQLite's constraint failures to the store's typed errors; anything else
 * passes through. Only the transactions table has a unique index that an
 * honest caller can hit (the tx id); any other key clash means out of order.
 */
function storeError(error: unknown, outOfOrder: string): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  switch (error.code) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return error.message.includes('txs.id')
        ? new DuplicateTxError('a transaction with this id is stored', { cause: error })
        : new OutOfOrderAppendError(outOfOrder, { cause: error });
    case 'SQLITE_CONSTRAINT_CHECK':
      return new NegativeAccountError('an account would go negative', { cause: error });
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return new OutOfOrderAppendError(outOfOrder, { cause: error });
    default:
      return error;
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
