/**
 * The SQLite ledger store on its own thread: the same contract as every
 * store, the same bytes on disk as the in-thread store, and when the thread
 * dies every call fails for good instead of guessing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerStore } from '#server/ledger/ledger-store.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { createSqliteThreadStore } from '#server/ledger/sqlite-thread-store.ts';
import type { AccountId } from '#core/index.ts';
import { ACCOUNTS, accountRow, dumpSqlite, dumpStore, fakeBytes, fakeTxs } from '#test/ledger-fixtures.ts';
import { runLedgerStoreContract } from '#test/ledger-store-contract.ts';

runLedgerStoreContract('sqlite on its own thread', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'acn-thread-store-'));
  const path = join(dir, 'ledger.db');
  return {
    open: () => Promise.resolve(createSqliteThreadStore({ path })),
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
});

/** A stand-in store thread that dies on its first call. */
const DYING = new URL(
  `data:text/javascript,${encodeURIComponent(
    "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => process.exit(7));",
  )}`,
);

async function refusal(promise: Promise<unknown>): Promise<{ name: string; code: unknown }> {
  const error = (await promise.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e,
  )) as Error & { code?: unknown };
  return { name: error.name, code: error.code };
}

describe('SQLite store thread', () => {
  let dir: string;
  let path: string;
  let store: LedgerStore | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acn-thread-store-'));
    path = join(dir, 'ledger.db');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the same database as the in-thread store', async () => {
    const otherPath = join(dir, 'other.db');
    const genesis = fakeBytes('genesis', 200);
    const txs = fakeTxs(50);
    const rows = [accountRow(ACCOUNTS[0] as AccountId, 7), accountRow(ACCOUNTS[1] as AccountId, 0, { stake: 3 })];
    const threaded = createSqliteThreadStore({ path });
    const inThread = createSqliteLedgerStore({ path: otherPath });
    for (const s of [threaded, inThread]) {
      await s.putGenesis(genesis);
      await s.appendTxs({ txs: txs.slice(0, 20), accounts: rows });
      await s.appendTxs({ txs: txs.slice(20), accounts: [] });
    }
    expect(await dumpStore(threaded)).toEqual(await dumpStore(inThread));
    await threaded.close();
    await inThread.close();
    expect(dumpSqlite(path)).toEqual(dumpSqlite(otherPath));
  });

  it('answers calls in the order they were made, typed errors included', async () => {
    store = createSqliteThreadStore({ path });
    const txs = fakeTxs(3);
    const calls = [
      store.appendTxs({ txs: txs.slice(0, 1), accounts: [] }),
      store.appendTxs({ txs: txs.slice(2), accounts: [] }), // skips seq 2
      store.appendTxs({ txs: txs.slice(1, 2), accounts: [] }),
      store.appendTxs({ txs: txs.slice(2), accounts: [accountRow(ACCOUNTS[0] as AccountId, -1)] }),
      store.appendTxs({ txs: txs.slice(2), accounts: [] }),
    ];
    const outcomes = await Promise.all(
      calls.map((call) =>
        call.then(
          () => 'ok',
          (e: unknown) => (e as Error).name,
        ),
      ),
    );
    expect(outcomes).toEqual(['ok', 'OutOfOrderAppendError', 'ok', 'NegativeAccountError', 'ok']);
    expect((await store.txs({ fromSeq: 1, limit: 10 })).map((t) => t.id)).toEqual(txs.map((t) => t.id));
  });

  it('reports a database it cannot open on the first call, as the in-thread store throws it', async () => {
    const unopenable = join(dir, 'missing', 'ledger.db');
    const thrown = (() => {
      try {
        createSqliteLedgerStore({ path: unopenable });
      } catch (error) {
        return error as Error;
      }
      return expect.fail('expected the in-thread store to throw');
    })();
    store = createSqliteThreadStore({ path: unopenable });
    expect((await refusal(store.genesis())).name).toBe(thrown.name);
    expect((await refusal(store.appendTxs({ txs: fakeTxs(1), accounts: [] }))).name).toBe(thrown.name);
  });

  it('fails every call, for good, once its thread has died', async () => {
    store = createSqliteThreadStore({ path, workerScript: DYING });
    expect(await refusal(store.appendTxs({ txs: fakeTxs(1), accounts: [] }))).toEqual({
      name: 'StoreFailedError',
      code: 'store-failed',
    });
    expect(await refusal(store.genesis())).toEqual({ name: 'StoreFailedError', code: 'store-failed' });
    await store.close();
    // Closing a failed store is harmless, and it stays failed.
    expect((await refusal(store.genesis())).name).toBe('StoreFailedError');
  });

  it('refuses calls after close with StoreClosedError', async () => {
    store = createSqliteThreadStore({ path });
    await store.putGenesis(fakeBytes('genesis'));
    await store.close();
    expect(await refusal(store.genesis())).toEqual({ name: 'StoreClosedError', code: 'store-closed' });
  });
});
