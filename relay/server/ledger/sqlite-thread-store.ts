/**
 * The SQLite ledger store on its own thread. better-sqlite3 is synchronous,
 * so on the event loop every commit (and its fsync) stalls HTTP, signature
 * checks and everything else for its whole duration; here a worker thread
 * owns the database (the same {@link createSqliteLedgerStore}) and the event
 * loop only sends it each call and awaits the answer. An append's promise
 * still resolves only after its SQLite transaction is durable, so group
 * commit and "acknowledged only when durable" are unchanged; a commit simply
 * overlaps with the next group being built.
 *
 * Calls run one at a time, in call order. Typed store errors come back as the
 * same classes (by name); any other error as a plain `Error` with its name,
 * code and message.
 *
 * If the thread dies, whether the call it was running took effect is
 * unknown, so the store fails for good: that call and every later one reject
 * with {@link StoreFailedError}. The ledger service then refuses submissions
 * (nothing unconfirmed is acknowledged) until the relay restarts and replays
 * what is on disk.
 */
import { Worker } from 'node:worker_threads';
import {
  DuplicateTxError,
  NegativeAccountError,
  OutOfOrderAppendError,
  StoreClosedError,
  StoreFailedError,
} from './errors.ts';
import type { LedgerStore } from './ledger-store.ts';
import type { SqliteLedgerStoreInit } from './sqlite-store.ts';

export interface SqliteThreadStoreInit extends SqliteLedgerStoreInit {
  /** The worker's entry. Default sqlite-store-worker.ts beside this file (tests swap it). */
  readonly workerScript?: URL;
}

/** A store call as sent to the thread. */
export interface StoreRequest {
  readonly id: number;
  readonly method: keyof LedgerStore;
  readonly args: readonly unknown[];
}

/** An error as it crosses the thread boundary (structured cloning keeps only a plain Error's message). */
export interface StoreErrorData {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

/** What one call came to. */
export type StoreAnswer =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: StoreErrorData };

/** The thread's answer to the call `id`. */
export type StoreReply = StoreAnswer & { readonly id: number };

interface Call {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

const TYPED: Readonly<Record<string, new (message: string) => Error>> = {
  DuplicateTxError,
  NegativeAccountError,
  OutOfOrderAppendError,
  StoreClosedError,
  StoreFailedError,
};

/** Opens (creating if needed) the ledger database at `init.path` on a new worker thread. */
export function createSqliteThreadStore(init: SqliteThreadStoreInit): LedgerStore {
  const worker = new Worker(init.workerScript ?? new URL('./sqlite-store-worker.ts', import.meta.url), {
    workerData: { path: init.path } satisfies SqliteLedgerStoreInit,
  });
  // An idle thread does not keep the process alive; one with a call to answer does.
  worker.unref();
  const calls = new Map<number, Call>();
  let nextId = 1;
  let closing: Promise<void> | undefined;
  let failure: StoreFailedError | undefined;

  worker.on('message', (reply: StoreReply) => {
    const call = calls.get(reply.id);
    if (call === undefined) return;
    calls.delete(reply.id);
    if (calls.size === 0) worker.unref();
    if (reply.ok) call.resolve(reply.value);
    else call.reject(rebuildError(reply.error));
  });
  worker.on('error', (error) => {
    fail(error);
  });
  worker.on('exit', (code) => {
    fail(new Error(`the ledger store thread exited with code ${code}`));
  });

  function fail(cause: Error): void {
    if (failure !== undefined || (closing !== undefined && calls.size === 0)) return;
    failure = new StoreFailedError('the ledger store thread failed; restart the relay', { cause });
    for (const call of calls.values()) call.reject(failure);
    calls.clear();
  }

  function call(method: keyof LedgerStore, args: readonly unknown[]): Promise<unknown> {
    if (failure !== undefined) return Promise.reject(failure);
    if (closing !== undefined) return Promise.reject(new StoreClosedError('the ledger store is closed'));
    return send(method, args);
  }

  function send(method: keyof LedgerStore, args: readonly unknown[]): Promise<unknown> {
    const id = nextId++;
    const request: StoreRequest = { id, method, args };
    return new Promise((resolve, reject) => {
      calls.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(request);
    });
  }

  return {
    genesis: () => call('genesis', []) as Promise<Uint8Array | undefined>,
    putGenesis: (bytes) => call('putGenesis', [bytes]) as Promise<void>,
    appendTxs: (batch) => call('appendTxs', [batch]) as Promise<void>,
    appendBlock: (block) => call('appendBlock', [block]) as Promise<void>,
    tx: (id) => call('tx', [id]) as ReturnType<LedgerStore['tx']>,
    txs: (options) => call('txs', [options]) as ReturnType<LedgerStore['txs']>,
    blocks: (options) => call('blocks', [options]) as ReturnType<LedgerStore['blocks']>,
    accounts: (options) => call('accounts', [options]) as ReturnType<LedgerStore['accounts']>,
    close() {
      closing ??= (async () => {
        // Calls sent before this one are answered first: the thread takes them in order.
        if (failure === undefined) await send('close', []).catch(() => undefined);
        await worker.terminate();
      })();
      return closing;
    },
  };
}

/** The error a thread's answer describes: the store's typed errors by name, anything else as a plain Error. */
function rebuildError(data: StoreErrorData): Error {
  const typed = Object.hasOwn(TYPED, data.name) ? TYPED[data.name] : undefined;
  if (typed !== undefined) return new typed(data.message);
  const error = new Error(data.message);
  error.name = data.name;
  if (data.code !== undefined) Object.assign(error, { code: data.code });
  return error;
}

/** What crosses the thread boundary for anything thrown. */
export function serialiseStoreError(error: unknown): StoreErrorData {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
}
