/**
 * Entry of the ledger store thread, started by `createSqliteThreadStore` as
 * `new Worker(new URL('./sqlite-store-worker.ts', import.meta.url))` (Node
 * runs it with type stripping). It owns the SQLite store and answers each
 * call in the order received.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { LedgerStore } from './ledger-store.ts';
import { createSqliteLedgerStore, type SqliteLedgerStoreInit } from './sqlite-store.ts';
import { serialiseStoreError, type StoreAnswer, type StoreReply, type StoreRequest } from './sqlite-thread-store.ts';

if (!parentPort) throw new Error('sqlite-store-worker.ts runs only as the thread of createSqliteThreadStore');
const port = parentPort;

// Opening can fail (a locked or unreadable file): then every call answers with that error.
let store: LedgerStore | Error;
try {
  store = createSqliteLedgerStore(workerData as SqliteLedgerStoreInit);
} catch (error) {
  store = error instanceof Error ? error : new Error(String(error));
}

port.on('message', ({ id, method, args }: StoreRequest) => {
  void answer(method, args).then((reply) => {
    const message: StoreReply = { id, ...reply };
    port.postMessage(message);
  });
});

async function answer(method: keyof LedgerStore, args: readonly unknown[]): Promise<StoreAnswer> {
  try {
    if (store instanceof Error) throw store;
    const fn = store[method].bind(store) as (...a: readonly unknown[]) => Promise<unknown>;
    return { ok: true, value: await fn(...args) };
  } catch (error) {
    return { ok: false, error: serialiseStoreError(error) };
  }
}
