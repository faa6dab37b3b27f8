/**
 * Helpers for the relay ledger tests: stand-in records for the store contract,
 * plain dumps of a store (through its interface, and of a SQLite file table
 * by table) for "nothing changed" comparisons, and a store wrapper that fails
 * on demand.
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import {
  signTransaction,
  solvePow,
  type AccountId,
  type BlockHash,
  type Hash,
  type Result,
  type Signer,
  type TxId,
} from '#core/index.ts';
import type { LedgerService, SubmitError, Submitted } from '#server/ledger/ledger-service.ts';
import { nextChainHash } from '#server/ledger/hash-chain.ts';
import {
  MAX_PAGE,
  type AccountRow,
  type LedgerStore,
  type TxBatch,
  type TxRecord,
} from '#server/ledger/ledger-store.ts';
import { hex, signerFor, type TestNetwork } from './network.ts';

export function sha256Of(text: string): Hash {
  return createHash('sha256').update(text).digest('hex') as Hash;
}

/** Deterministic stand-in bytes: the store keeps bytes, it does not read them. */
export function fakeBytes(label: string, length = 120): Uint8Array {
  const out = new Uint8Array(length);
  let block = createHash('sha256').update(label).digest();
  for (let i = 0; i < length; i++) {
    if (i % 32 === 0 && i > 0) block = createHash('sha256').update(block).digest();
    out[i] = block[i % 32] as number;
  }
  return out;
}

export const FAKE_GENESIS_ID = sha256Of('genesis');

/** `count` stand-in transaction records following `after` (the last stored record, if any). */
export function fakeTxs(count: number, after?: TxRecord, label = 'tx'): TxRecord[] {
  const txs: TxRecord[] = [];
  let seq = after?.seq ?? 0;
  let chain = after?.chain ?? FAKE_GENESIS_ID;
  for (let i = 0; i < count; i++) {
    seq++;
    const id = sha256Of(`${label} ${seq}`) as TxId;
    chain = nextChainHash(chain, id);
    txs.push({ seq, id, type: 'tx/transfer', bytes: fakeBytes(`${label} ${seq}`, 100 + (seq % 50)), chain });
  }
  return txs;
}

/** A few distinct, real account ids. */
export const ACCOUNTS: readonly AccountId[] = ['a', 'b', 'c', 'd'].map((n) => signerFor(`store ${n}`).accountId);

export function accountRow(account: AccountId, balance: number, overrides: Partial<AccountRow> = {}): AccountRow {
  return { account, balance, stake: 0, seq: 0, reputation: 500, granted: true, ...overrides };
}

export function fakeBlockId(height: number): BlockHash {
  return sha256Of(`block ${height}`) as BlockHash;
}

/** Everything a store holds, read through its interface, with bytes as hex. */
export async function dumpStore(store: LedgerStore): Promise<unknown> {
  const genesis = await store.genesis();
  const txs: unknown[] = [];
  for (let page = await store.txs({ fromSeq: 1, limit: MAX_PAGE }); page.length > 0;) {
    txs.push(...page.map((tx) => ({ ...tx, bytes: hex(tx.bytes) })));
    page = await store.txs({ fromSeq: txs.length + 1, limit: MAX_PAGE });
  }
  const blocks = (await store.blocks({ fromHeight: 1, limit: MAX_PAGE })).map((b) => ({
    ...b,
    header: hex(b.header),
  }));
  const accounts = await store.accounts({ limit: MAX_PAGE });
  return { genesis: genesis && hex(genesis), txs, blocks, accounts };
}

/** Every row of every table of a SQLite file, read with a separate connection, blobs as hex. */
export function dumpSqlite(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all();
    const dump: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      dump[name] = db
        .prepare<[], Record<string, unknown>>(`SELECT * FROM "${name}" ORDER BY 1`)
        .all()
        .map((row) =>
          Object.fromEntries(
            Object.entries(row).map(([key, value]) => [key, value instanceof Uint8Array ? hex(value) : value]),
          ),
        );
    }
    return dump;
  } finally {
    db.close();
  }
}

/** A store that passes everything through to `inner`, except appends while `failing` says so. */
export interface FaultyStore extends LedgerStore {
  /** When set, the next `appendTxs` calls wait for it, then fail if it resolves to true. */
  gate: (() => Promise<boolean>) | undefined;
  /** How many `appendTxs` calls reached the inner store. */
  readonly appends: number;
}

export function faultyStore(inner: LedgerStore): FaultyStore {
  let appends = 0;
  const store: FaultyStore = {
    gate: undefined,
    get appends() {
      return appends;
    },
    genesis: () => inner.genesis(),
    putGenesis: (bytes) => inner.putGenesis(bytes),
    async appendTxs(batch: TxBatch) {
      if (store.gate !== undefined && (await store.gate())) throw new Error('injected disk failure');
      appends++;
      return inner.appendTxs(batch);
    },
    appendBlock: (block) => inner.appendBlock(block),
    tx: (id) => inner.tx(id),
    txs: (options) => inner.txs(options),
    blocks: (options) => inner.blocks(options),
    accounts: (options) => inner.accounts(options),
    close: () => inner.close(),
  };
  return store;
}

/** A transfer signed by `from`, encoded. */
export function transferBytes(
  net: TestNetwork,
  from: Signer,
  to: AccountId,
  amount: number,
  seq: number,
): Promise<Uint8Array> {
  return signTransaction(from, 'tx/transfer', { v: 1, net: net.relay.accountId, to, amount, seq });
}

/** Onboards `who` through the service: the relay signs a grant with `who`'s proof-of-work. */
export async function onboard(
  service: LedgerService,
  net: TestNetwork,
  who: Signer,
): Promise<Result<Submitted, SubmitError>> {
  const pow = await solvePow({
    network: net.relay.accountId,
    publicKey: who.publicKey,
    difficulty: net.params.minPowDifficulty,
  });
  return service.submitSigned('tx/grant', { to: who.accountId, amount: net.params.grantAmount, pow });
}

/** The value of a successful result; fails the test with the error's name otherwise. */
export function expectOk<T>(result: Result<T>): T {
  if (!result.ok) return expect.fail(`expected ok, got ${result.error.name}: ${result.error.message}`);
  return result.value;
}

/** Asserts `result` failed with an error whose `name` and `code` are these (never its text). */
export function expectFailure(result: Result<unknown>, name: string, code: string): Error {
  if (result.ok) return expect.fail(`expected ${name}, got ok`);
  const { error } = result;
  expect({ name: error.name, code: (error as { code?: unknown }).code }).toEqual({ name, code });
  return error;
}
