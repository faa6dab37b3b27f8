/**
 * Unbonding in the relay's ledger service: an unstake stays slashable until
 * the service releases it, which it does by itself in the first block after
 * the period, counted from the unstake's block; across a restart too; and the
 * stored ledger still verifies. The block timer runs on a fake clock, the
 * ledger's `now` is a variable the test moves.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createLedgerService, type LedgerService, type LedgerServiceInit } from '#server/ledger/ledger-service.ts';
import { createSqliteLedgerStore } from '#server/ledger/sqlite-store.ts';
import { verifyLedger } from '#server/ledger/verify-ledger.ts';
import {
  DEFAULT_UNBONDING_MS,
  encodeEnvelope,
  signGenesis,
  signTransaction,
  totalValue,
  type LedgerParams,
  type Signer,
} from '#core/index.ts';
import { expectFailure, expectOk, onboard } from '#test/ledger-fixtures.ts';
import { createTestNetwork, receipt, signerFor, T0, task, TEST_PARAMS, type TestNetwork } from '#test/network.ts';

const UNBONDING_MS = 10_000;
const BLOCK_MS = 100;
const PARAMS: LedgerParams = { ...TEST_PARAMS, unbondingMs: UNBONDING_MS };
const verifier = createNodeVerifier();
let net: TestNetwork;
let worker: Signer;
let dir: string;
let path: string;
let clock: number;

beforeAll(async () => {
  net = await createTestNetwork(PARAMS, 'unbonding service relay');
  worker = signerFor('unbonding service worker');
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'acn-unbonding-'));
  path = join(dir, 'ledger.db');
  clock = T0;
  // Only the block timer is fake: commits keep their real 1 ms timer.
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

async function started(init: Partial<LedgerServiceInit> = {}): Promise<LedgerService> {
  const ledger = createLedgerService({
    store: createSqliteLedgerStore({ path }),
    producer: net.relay,
    verifier,
    params: PARAMS,
    blockIntervalMs: BLOCK_MS,
    now: () => clock,
    ...init,
  });
  await ledger.start();
  return ledger;
}

/** A real wait, long enough for a commit (its timer is real, 1 ms). */
const committed = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * Moves the ledger's clock by `ms` and lets two block ticks run (each makes a
 * block of what waits, then signs the releases due), with their commits.
 */
async function tick(ms = 0): Promise<void> {
  clock += ms;
  for (let i = 0; i < 2; i++) {
    await vi.advanceTimersByTimeAsync(BLOCK_MS);
    await committed();
  }
}

function unstakeBytes(amount: number, seq: number): Promise<Uint8Array> {
  return signTransaction(worker, 'tx/unstake', { v: 1, net: net.relay.accountId, amount, seq });
}

/** A worker onboarded with 300 staked (balance 700). */
async function stakedWorker(ledger: LedgerService): Promise<void> {
  expectOk(await onboard(ledger, net, worker));
  const bytes = await signTransaction(worker, 'tx/stake', { v: 1, net: net.relay.accountId, amount: 300, seq: 1 });
  expectOk(await ledger.submit(bytes));
}

async function verifyFile() {
  const store = createSqliteLedgerStore({ path });
  try {
    return await verifyLedger(store, verifier);
  } finally {
    await store.close();
  }
}

const holdings = (ledger: LedgerService) => {
  const a = ledger.account(worker.accountId);
  const unbonding = ledger.unbonding(worker.accountId).reduce((n, u) => n + u.amount, 0);
  return { balance: a.balance, stake: a.stake, unbonding };
};

describe('unbonding in the ledger service', () => {
  it('holds an unstake back for the period after its block, then releases it by itself', async () => {
    const ledger = await started();
    await stakedWorker(ledger);
    const unstaked = expectOk(await ledger.submit(await unstakeBytes(300, 2)));
    expect(holdings(ledger)).toEqual({ balance: 700, stake: 0, unbonding: 300 });
    // Before its block the release time is an estimate from now.
    expect(ledger.unbonding(worker.accountId)).toEqual([
      { unstake: unstaked.id, amount: 300, releaseAt: clock + UNBONDING_MS },
    ]);
    // Not spendable meanwhile.
    const spend = await signTransaction(worker, 'tx/transfer', {
      v: 1,
      net: net.relay.accountId,
      to: net.relay.accountId,
      amount: 701,
      seq: 3,
    });
    expectFailure(await ledger.submit(spend), 'InsufficientFundsError', 'insufficient-funds');

    await tick(1000); // the unstake's block, at T0 + 1000
    expect(ledger.height).toBe(1);
    const blockTs = T0 + 1000;
    expect(ledger.unbonding(worker.accountId)).toEqual([
      { unstake: unstaked.id, amount: 300, releaseAt: blockTs + UNBONDING_MS },
    ]);
    await tick(UNBONDING_MS - 1); // 1 ms before the period ends: nothing is released
    expect(holdings(ledger)).toEqual({ balance: 700, stake: 0, unbonding: 300 });
    await tick(1);
    expect(holdings(ledger)).toEqual({ balance: 1000, stake: 0, unbonding: 0 });
    expect(ledger.unbonding(worker.accountId)).toEqual([]);
    expect(totalValue(ledger.state)).toBe(ledger.state.supply);
    await ledger.stop();

    // Replaying the file checks the release against the block times: dated at or after the
    // period, and in a block no earlier than its date.
    const report = await verifyFile();
    expect(report).toMatchObject({ ok: true, problems: [], txCount: 4, supply: 1000 });
  });

  it('lets a slash reach stake that is unbonding, and releases only what is left', async () => {
    const ledger = await started();
    await stakedWorker(ledger);
    expectOk(await ledger.submit(await unstakeBytes(300, 2)));
    await tick(1000);
    const lied = await task(net, signerFor('unbonding requester'));
    const evidence = await receipt(net, worker, lied.id);
    expectOk(await ledger.submitSigned('tx/slash', { worker: worker.accountId, task: lied.id, amount: 120, evidence }));
    expect(holdings(ledger)).toEqual({ balance: 700, stake: 0, unbonding: 180 });
    expect(ledger.balance(net.relay.accountId)).toBe(120);
    await tick(UNBONDING_MS);
    expect(holdings(ledger)).toEqual({ balance: 880, stake: 0, unbonding: 0 });
    await ledger.stop();
    expect(await verifyFile()).toMatchObject({ ok: true, problems: [] });
  });

  it('never dates a block before a release it holds, even when the clock steps back', async () => {
    const ledger = await started();
    await stakedWorker(ledger);
    expectOk(await ledger.submit(await unstakeBytes(300, 2)));
    await tick(1000);
    clock += UNBONDING_MS;
    // One tick: a block of nothing new, then the release, dated now.
    await vi.advanceTimersByTimeAsync(BLOCK_MS);
    await committed();
    expect(holdings(ledger)).toEqual({ balance: 1000, stake: 0, unbonding: 0 });
    clock -= 5000; // the system clock is set back before the release's block is made
    await tick();
    await ledger.stop();
    // A block dated before the release it holds would not replay.
    expect(await verifyFile()).toMatchObject({ ok: true, problems: [] });
  });

  it('keeps the unbonding clock across a restart', async () => {
    const first = await started();
    await stakedWorker(first);
    expectOk(await first.submit(await unstakeBytes(100, 2)));
    await tick(1000);
    const [before] = first.unbonding(worker.accountId);
    await first.stop();

    const second = await started();
    expect(second.unbonding(worker.accountId)).toEqual([before]);
    await tick(UNBONDING_MS / 2);
    expect(holdings(second)).toEqual({ balance: 700, stake: 200, unbonding: 100 });
    await tick(UNBONDING_MS / 2);
    expect(holdings(second)).toEqual({ balance: 800, stake: 200, unbonding: 0 });
    await second.stop();
    expect(await verifyFile()).toMatchObject({ ok: true, problems: [] });
  });

  it('gives a new genesis the default period when none is configured, and keeps an old genesis instant', async () => {
    const fresh = await started({ params: TEST_PARAMS });
    expect(fresh.params.unbondingMs).toBe(DEFAULT_UNBONDING_MS);
    await fresh.stop();
    await rm(path);

    // A genesis written before the rule: no unbondingMs, so unstakes stay instant.
    const store = createSqliteLedgerStore({ path });
    await store.putGenesis(encodeEnvelope(await signGenesis(net.relay, TEST_PARAMS, T0)));
    await store.close();
    const old = await started({ params: TEST_PARAMS });
    expect(old.params.unbondingMs).toBeUndefined();
    await stakedWorker(old);
    expectOk(await old.submit(await unstakeBytes(100, 2)));
    expect(holdings(old)).toEqual({ balance: 800, stake: 200, unbonding: 0 });
    await old.stop();
    // Asking for an unbonding period on it is a mismatch, not a silent change of its rules.
    const asked = createLedgerService({
      store: createSqliteLedgerStore({ path }),
      producer: net.relay,
      params: PARAMS,
    });
    await expect(asked.start()).rejects.toMatchObject({ name: 'GenesisMismatchError' });
  });
});
