/**
 * `verifyLedger` replays a stored ledger and names what is wrong with it;
 * the service refuses to start on a ledger that does not verify.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createLedgerService } from '#server/ledger/ledger-service.ts';
import type { BlockRecord, TxRecord } from '#server/ledger/ledger-store.ts';
import { createMemoryLedgerData, createMemoryLedgerStore, type MemoryLedgerData } from '#server/ledger/memory-store.ts';
import { verifyLedger, type LedgerProblemCode } from '#server/ledger/verify-ledger.ts';
import { buildBlock, type Hash, type Signer } from '#core/index.ts';
import { expectOk, onboard, transferBytes } from '#test/ledger-fixtures.ts';
import { createTestNetwork, forgeSignature, signerFor, T0, TEST_PARAMS, type TestNetwork } from '#test/network.ts';

const verifier = createNodeVerifier();
let net: TestNetwork;
let pristine: MemoryLedgerData;
let alice: Signer;
let bob: Signer;

/** 2 grants and 5 transfers: blocks 1 and 2 hold 3 each, the last transfer waits unblocked. */
beforeAll(async () => {
  net = await createTestNetwork();
  alice = signerFor('verify alice');
  bob = signerFor('verify bob');
  pristine = createMemoryLedgerData();
  const ledger = createLedgerService({
    store: createMemoryLedgerStore({ data: pristine }),
    producer: net.relay,
    verifier,
    params: TEST_PARAMS,
    maxBlockTxs: 3,
    blockIntervalMs: 60_000,
    now: () => T0 + 1000,
  });
  await ledger.start();
  const block2 = new Promise((resolve) => {
    ledger.addEventListener('block', (event) => {
      if (event.detail.height === 2) resolve(event.detail);
    });
  });
  for (const who of [alice, bob]) expectOk(await onboard(ledger, net, who));
  for (let seq = 1; seq <= 5; seq++) {
    expectOk(await ledger.submit(await transferBytes(net, alice, bob.accountId, 10 * seq, seq)));
  }
  await block2; // appended once the sixth transaction is committed
  expect(ledger.height).toBe(2);
  // Not stopped on purpose: stopping would block the last transfer.
});

async function verifyCopy(tamper: (data: MemoryLedgerData) => void | Promise<void>) {
  const data = structuredClone(pristine);
  await tamper(data);
  return verifyLedger(createMemoryLedgerStore({ data }), verifier);
}

function codes(report: { problems: readonly { code: LedgerProblemCode }[] }): LedgerProblemCode[] {
  return [...new Set(report.problems.map((p) => p.code))].sort();
}

const txAt = (data: MemoryLedgerData, seq: number) => data.txs[seq - 1] as TxRecord;
const blockAt = (data: MemoryLedgerData, height: number) => data.blocks[height - 1] as BlockRecord;

describe('verifyLedger', () => {
  it('passes a sound ledger and reports its height, size and supply', async () => {
    const report = await verifyCopy(() => undefined);
    expect(report).toEqual({ ok: true, height: 2, txCount: 7, supply: 2000, problems: [] });
  });

  it('reports a missing genesis', async () => {
    const report = await verifyCopy((data) => {
      data.genesis = undefined;
    });
    expect(report.ok).toBe(false);
    expect(codes(report)).toEqual(['missing-genesis']);
  });

  it('reports a blocked transaction whose bytes were changed, with its block', async () => {
    const report = await verifyCopy((data) => {
      const tx = txAt(data, 2);
      data.txs[1] = { ...tx, bytes: forgeSignature(tx.bytes) };
    });
    expect(codes(report)).toEqual(['invalid-chain']);
    expect(report.problems[0]).toMatchObject({ height: 1 });
    expect(report.supply).toBe(0);
  });

  it('reports a tail transaction replaced by another validly signed one', async () => {
    const other = await transferBytes(net, alice, bob.accountId, 1, 6);
    const report = await verifyCopy((data) => {
      data.txs[6] = { ...txAt(data, 7), bytes: other };
    });
    expect(codes(report)).toContain('tx-mismatch');
    expect(report.problems.find((p) => p.code === 'tx-mismatch')).toMatchObject({ seq: 7 });
  });

  it('reports a tail transaction that does not apply', async () => {
    const overdraft = await transferBytes(net, bob, alice.accountId, 1_000_000, 1);
    const report = await verifyCopy((data) => {
      data.txs[6] = { ...txAt(data, 7), bytes: overdraft };
    });
    expect(codes(report)).toEqual(['invalid-tail', 'tx-mismatch']);
  });

  it('reports a broken hash chain where it breaks', async () => {
    const report = await verifyCopy((data) => {
      data.txs[3] = { ...txAt(data, 4), chain: txAt(data, 3).chain };
    });
    expect(report.problems.map((p) => [p.code, p.seq])).toEqual([
      ['hash-chain-mismatch', 4],
      ['hash-chain-mismatch', 5],
    ]);
  });

  it('reports swapped transactions', async () => {
    const report = await verifyCopy((data) => {
      const [third, fourth] = [txAt(data, 3), txAt(data, 4)];
      data.txs[2] = { ...fourth, seq: 3, chain: third.chain };
      data.txs[3] = { ...third, seq: 4, chain: fourth.chain };
    });
    expect(codes(report)).toEqual(['hash-chain-mismatch', 'invalid-chain']);
  });

  it('reports an account row that differs from the replayed balance, or is missing', async () => {
    const changed = await verifyCopy((data) => {
      const row = data.accounts.get(bob.accountId);
      if (row) data.accounts.set(bob.accountId, { ...row, balance: row.balance + 1 });
    });
    expect(codes(changed)).toEqual(['account-mismatch']);
    expect(changed.problems[0]).toMatchObject({ account: bob.accountId });
    const missing = await verifyCopy((data) => {
      data.accounts.delete(alice.accountId);
    });
    expect(missing.problems).toMatchObject([{ code: 'account-mismatch', account: alice.accountId }]);
  });

  it('reports a block signed by another key, and a stored block id that is not its header', async () => {
    const forged = await verifyCopy(async (data) => {
      const block = blockAt(data, 2);
      const txs = data.txs.slice(block.firstSeq - 1, block.firstSeq - 1 + block.txCount).map((t) => t.bytes);
      const prev = blockAt(data, 1).id as Hash;
      const built = await buildBlock(signerFor('impostor'), { height: 2, prev, txs, ts: T0 + 1000 });
      data.blocks[1] = { ...block, header: built.header };
    });
    expect(codes(forged)).toEqual(['block-mismatch', 'invalid-chain']);
    const misnamed = await verifyCopy((data) => {
      data.blocks[0] = { ...blockAt(data, 1), id: blockAt(data, 2).id };
    });
    expect(codes(misnamed)).toEqual(['block-mismatch']);
  });
});

describe('the ledger service on a ledger that does not verify', () => {
  it('refuses to start with CorruptLedgerError and its problems', async () => {
    const data = structuredClone(pristine);
    data.txs[3] = { ...txAt(data, 4), chain: txAt(data, 3).chain };
    const ledger = createLedgerService({
      store: createMemoryLedgerStore({ data }),
      producer: net.relay,
      verifier,
      params: TEST_PARAMS,
    });
    const error: unknown = await ledger.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'CorruptLedgerError', code: 'corrupt-ledger' });
    expect(codes(error as { problems: { code: LedgerProblemCode }[] })).toEqual(['hash-chain-mismatch']);
    await ledger.stop();
  });
});
