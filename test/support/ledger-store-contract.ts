/**
 * The contract every {@link LedgerStore} keeps, run against each
 * implementation through a setup function (like automerge-repo's
 * `runStorageAdapterTests`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_PAGE, type LedgerStore, type TxRecord } from '#server/ledger/ledger-store.ts';
import type { TxId } from '#core/index.ts';
import { ACCOUNTS, accountRow, dumpStore, fakeBlockId, fakeBytes, fakeTxs } from './ledger-fixtures.ts';
import { hex } from './network.ts';

export interface LedgerStoreHarness {
  /** Opens a store over the harness's data; after a close, a new open sees everything appended. */
  open(): Promise<LedgerStore>;
  /** Removes whatever the harness created. */
  teardown(): Promise<void>;
}

const [A, B, C, D] = ACCOUNTS as [
  (typeof ACCOUNTS)[number],
  (typeof ACCOUNTS)[number],
  (typeof ACCOUNTS)[number],
  (typeof ACCOUNTS)[number],
];

async function expectRefused(promise: Promise<unknown>, name: string, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect({ name: (error as Error).name, code: (error as { code?: unknown }).code }).toEqual({ name, code });
}

export function runLedgerStoreContract(name: string, setup: () => Promise<LedgerStoreHarness>): void {
  describe(`LedgerStore contract: ${name}`, () => {
    let harness: LedgerStoreHarness;
    let store: LedgerStore;

    beforeEach(async () => {
      harness = await setup();
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
      await harness.teardown();
    });

    let lastAppended: TxRecord | undefined;
    beforeEach(() => {
      lastAppended = undefined;
    });

    /** Appends `count` stand-in transactions in one batch (after those appended by earlier calls) and returns them. */
    async function append(count: number, label = 'tx'): Promise<TxRecord[]> {
      const txs = fakeTxs(count, lastAppended, label);
      await store.appendTxs({ txs, accounts: [] });
      lastAppended = txs.at(-1);
      return txs;
    }

    it('starts empty', async () => {
      expect(await store.genesis()).toBeUndefined();
      expect(await store.txs({ fromSeq: 1, limit: 10 })).toEqual([]);
      expect(await store.blocks({ fromHeight: 1, limit: 10 })).toEqual([]);
      expect(await store.accounts({ limit: 10 })).toEqual([]);
      expect(await store.tx(fakeTxs(1)[0]?.id as TxId)).toBeUndefined();
    });

    it('keeps the genesis exactly and refuses a second one', async () => {
      const genesis = fakeBytes('genesis', 300);
      await store.putGenesis(genesis);
      expect(hex((await store.genesis()) as Uint8Array)).toBe(hex(genesis));
      await expectRefused(store.putGenesis(fakeBytes('other')), 'OutOfOrderAppendError', 'out-of-order');
      expect(hex((await store.genesis()) as Uint8Array)).toBe(hex(genesis));
    });

    it('keeps each transaction exactly: bytes, id, type, seq and chain', async () => {
      const txs = await append(5);
      const stored = await store.txs({ fromSeq: 1, limit: 10 });
      expect(stored.map((t) => ({ ...t, bytes: hex(t.bytes) }))).toEqual(
        txs.map((t) => ({ ...t, bytes: hex(t.bytes), block: undefined })),
      );
      const third = txs[2] as TxRecord;
      const byId = await store.tx(third.id);
      expect(byId && { ...byId, bytes: hex(byId.bytes) }).toEqual({
        ...third,
        bytes: hex(third.bytes),
        block: undefined,
      });
    });

    it('stores a copy: changing the caller buffer afterwards changes nothing', async () => {
      const [tx] = fakeTxs(1);
      const record = tx as TxRecord;
      const bytes = Uint8Array.from(record.bytes);
      await store.appendTxs({ txs: [{ ...record, bytes }], accounts: [] });
      bytes.fill(0);
      expect(hex((await store.tx(record.id))?.bytes ?? new Uint8Array())).toBe(hex(record.bytes));
    });

    it('upserts account rows and lists them by account id, paged', async () => {
      const [first, second] = fakeTxs(2);
      await store.appendTxs({ txs: [first as TxRecord], accounts: [accountRow(A, 10), accountRow(B, 20)] });
      await store.appendTxs({
        txs: [second as TxRecord],
        accounts: [accountRow(B, 5, { stake: 15, seq: 1 }), accountRow(C, 0, { granted: false, reputation: 505 })],
      });
      const sorted = [
        accountRow(A, 10),
        accountRow(B, 5, { stake: 15, seq: 1 }),
        accountRow(C, 0, { granted: false, reputation: 505 }),
      ].sort((x, y) => (x.account < y.account ? -1 : 1));
      expect(await store.accounts({ limit: 10 })).toEqual(sorted);
      expect(await store.accounts({ limit: 2 })).toEqual(sorted.slice(0, 2));
      expect(await store.accounts({ limit: 2, after: sorted[1]?.account as (typeof ACCOUNTS)[number] })).toEqual(
        sorted.slice(2),
      );
    });

    describe('every append is atomic: a refused batch leaves the store unchanged', () => {
      beforeEach(async () => {
        await store.putGenesis(fakeBytes('genesis'));
        await append(3);
        await store.appendTxs({
          txs: fakeTxs(1, (await store.txs({ fromSeq: 3, limit: 1 }))[0]),
          accounts: [accountRow(A, 100)],
        });
        await store.appendBlock({ height: 1, id: fakeBlockId(1), header: fakeBytes('h1'), firstSeq: 1, txCount: 2 });
      });

      async function last(): Promise<TxRecord> {
        return (await store.txs({ fromSeq: 4, limit: 1 }))[0] as TxRecord;
      }

      it('a negative balance (CHECK balance >= 0)', async () => {
        const before = await dumpStore(store);
        const txs = fakeTxs(3, await last(), 'neg');
        const batch = { txs, accounts: [accountRow(B, 50), accountRow(A, -1), accountRow(C, 7)] };
        await expectRefused(store.appendTxs(batch), 'NegativeAccountError', 'negative-account');
        expect(await dumpStore(store)).toEqual(before);
      });

      it('a negative stake (CHECK stake >= 0)', async () => {
        const before = await dumpStore(store);
        const txs = fakeTxs(2, await last(), 'neg');
        const batch = { txs, accounts: [accountRow(A, 90), accountRow(D, 1, { stake: -5 })] };
        await expectRefused(store.appendTxs(batch), 'NegativeAccountError', 'negative-account');
        expect(await dumpStore(store)).toEqual(before);
      });

      it('a transaction id already stored (unique index)', async () => {
        const before = await dumpStore(store);
        const [fresh, dup] = fakeTxs(2, await last(), 'dup');
        const stored = (await store.txs({ fromSeq: 2, limit: 1 }))[0] as TxRecord;
        const batch = {
          txs: [fresh as TxRecord, { ...(dup as TxRecord), id: stored.id }],
          accounts: [accountRow(B, 1)],
        };
        await expectRefused(store.appendTxs(batch), 'DuplicateTxError', 'duplicate-tx');
        expect(await dumpStore(store)).toEqual(before);
      });

      it('the same id twice in one batch', async () => {
        const before = await dumpStore(store);
        const [one, two] = fakeTxs(2, await last(), 'twice');
        const batch = { txs: [one as TxRecord, { ...(two as TxRecord), id: (one as TxRecord).id }], accounts: [] };
        await expectRefused(store.appendTxs(batch), 'DuplicateTxError', 'duplicate-tx');
        expect(await dumpStore(store)).toEqual(before);
      });

      it('a seq that is not the next one', async () => {
        const before = await dumpStore(store);
        const [gap] = fakeTxs(1, { ...(await last()), seq: 5 }, 'gap');
        await expectRefused(
          store.appendTxs({ txs: [gap as TxRecord], accounts: [accountRow(B, 1)] }),
          'OutOfOrderAppendError',
          'out-of-order',
        );
        const [again] = fakeTxs(1, { ...(await last()), seq: 3 }, 'again');
        await expectRefused(
          store.appendTxs({ txs: [again as TxRecord], accounts: [] }),
          'OutOfOrderAppendError',
          'out-of-order',
        );
        expect(await dumpStore(store)).toEqual(before);
      });

      it('a block out of order, or over transactions not stored', async () => {
        const before = await dumpStore(store);
        const block = { id: fakeBlockId(2), header: fakeBytes('h2') };
        for (const wrong of [
          { ...block, height: 1, firstSeq: 3, txCount: 1 },
          { ...block, height: 3, firstSeq: 3, txCount: 1 },
          { ...block, height: 2, firstSeq: 2, txCount: 2 },
          { ...block, height: 2, firstSeq: 4, txCount: 1 },
          { ...block, height: 2, firstSeq: 3, txCount: 3 },
        ]) {
          await expectRefused(store.appendBlock(wrong), 'OutOfOrderAppendError', 'out-of-order');
        }
        expect(await dumpStore(store)).toEqual(before);
      });
    });

    it('records which transactions each block covers, in order', async () => {
      const txs = await append(7);
      await store.appendBlock({ height: 1, id: fakeBlockId(1), header: fakeBytes('h1'), firstSeq: 1, txCount: 3 });
      await store.appendBlock({ height: 2, id: fakeBlockId(2), header: fakeBytes('h2'), firstSeq: 4, txCount: 2 });
      const locations = (await store.txs({ fromSeq: 1, limit: 10 })).map((t) => t.block);
      expect(locations).toEqual([
        { height: 1, index: 0 },
        { height: 1, index: 1 },
        { height: 1, index: 2 },
        { height: 2, index: 0 },
        { height: 2, index: 1 },
        undefined,
        undefined,
      ]);
      expect((await store.tx((txs[4] as TxRecord).id))?.block).toEqual({ height: 2, index: 1 });
      expect((await store.tx((txs[6] as TxRecord).id))?.block).toBeUndefined();
      expect((await store.txs({ fromSeq: 5, limit: 1 }))[0]?.block).toEqual({ height: 2, index: 1 });
      const blocks = await store.blocks({ fromHeight: 1, limit: 10 });
      expect(blocks.map((b) => ({ ...b, header: hex(b.header) }))).toEqual([
        { height: 1, id: fakeBlockId(1), header: hex(fakeBytes('h1')), firstSeq: 1, txCount: 3 },
        { height: 2, id: fakeBlockId(2), header: hex(fakeBytes('h2')), firstSeq: 4, txCount: 2 },
      ]);
    });

    it('pages transactions and blocks, capping a page at MAX_PAGE', async () => {
      const txs: TxRecord[] = [];
      for (let i = 0; i < 5; i++) txs.push(...(await append(500, `page ${i}`)));
      for (let height = 1; height <= 25; height++) {
        await store.appendBlock({
          height,
          id: fakeBlockId(height),
          header: fakeBytes(`h${height}`),
          firstSeq: (height - 1) * 100 + 1,
          txCount: 100,
        });
      }
      const all = await store.txs({ fromSeq: 1, limit: 5000 });
      expect(all).toHaveLength(MAX_PAGE);
      const middle = await store.txs({ fromSeq: 1001, limit: 300 });
      expect(middle.map((t) => t.id)).toEqual(txs.slice(1000, 1300).map((t) => t.id));
      expect(middle[0]?.block).toEqual({ height: 11, index: 0 });
      expect(middle.at(-1)?.block).toEqual({ height: 13, index: 99 });
      expect(await store.txs({ fromSeq: 2501, limit: 10 })).toEqual([]);
      const blocks = await store.blocks({ fromHeight: 24, limit: 10 });
      expect(blocks.map((b) => b.height)).toEqual([24, 25]);
      expect((await store.blocks({ fromHeight: 3, limit: 2 })).map((b) => b.height)).toEqual([3, 4]);
    });

    it('reopened after close, returns exactly what was appended', async () => {
      await store.putGenesis(fakeBytes('genesis'));
      await append(4);
      await store.appendTxs({
        txs: fakeTxs(2, (await store.txs({ fromSeq: 4, limit: 1 }))[0], 'more'),
        accounts: [accountRow(A, 3), accountRow(B, 9, { stake: 1 })],
      });
      await store.appendBlock({ height: 1, id: fakeBlockId(1), header: fakeBytes('h1'), firstSeq: 1, txCount: 4 });
      const before = await dumpStore(store);
      await store.close();
      await store.close(); // harmless
      await expectRefused(store.txs({ fromSeq: 1, limit: 1 }), 'StoreClosedError', 'store-closed');
      store = await harness.open();
      expect(await dumpStore(store)).toEqual(before);
    });
  });
}
