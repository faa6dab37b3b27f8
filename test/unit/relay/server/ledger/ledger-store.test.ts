/** Both ledger stores keep the same contract; SQLite also enforces it in the schema itself. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { AccountId } from '#core/index.ts';
import { createMemoryLedgerData, createMemoryLedgerStore } from '#server/ledger/memory-store.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { ACCOUNTS, accountRow, fakeTxs } from '#test/ledger-fixtures.ts';
import { runLedgerStoreContract } from '#test/ledger-store-contract.ts';

runLedgerStoreContract('memory', () => {
  const data = createMemoryLedgerData();
  return Promise.resolve({
    open: () => Promise.resolve(createMemoryLedgerStore({ data })),
    teardown: () => Promise.resolve(),
  });
});

runLedgerStoreContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'acn-ledger-store-'));
  const path = join(dir, 'ledger.db');
  return {
    open: () => Promise.resolve(createSqliteLedgerStore({ path })),
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('SQLite ledger store', () => {
  it('runs in WAL mode, and its schema itself refuses negative balances and stakes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acn-ledger-store-'));
    const path = join(dir, 'ledger.db');
    try {
      const store = createSqliteLedgerStore({ path });
      await store.appendTxs({ txs: fakeTxs(1), accounts: [accountRow(ACCOUNTS[0] as AccountId, 5)] });
      const raw = new Database(path);
      try {
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(() => raw.prepare('UPDATE accounts SET balance = -1').run()).toThrow(/CHECK/);
        expect(() => raw.prepare('UPDATE accounts SET stake = -1').run()).toThrow(/CHECK/);
        expect(() =>
          raw.prepare('INSERT INTO txs (seq, id, type, bytes, chain) SELECT 2, id, type, bytes, chain FROM txs').run(),
        ).toThrow(/UNIQUE/);
      } finally {
        raw.close();
      }
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
