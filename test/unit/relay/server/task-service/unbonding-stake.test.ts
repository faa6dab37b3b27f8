/**
 * Stake that answers for work, through the relay's task service with its
 * real ledger (in memory, with an unbonding period): a worker that lies and
 * unstakes all its stake the moment it has answered is still slashed when
 * the re-check lands, from the stake it has unbonding, and gets nothing of it
 * back; an honest worker that unstakes after its work gets all its stake back
 * once the period has passed, and not before. The ledger's clock is moved by
 * the test; the block timer is real and short.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Signer } from '#core/identity/signer.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import { totalValue } from '#core/ledger/state.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createLedgerService, type LedgerService } from '#server/ledger/ledger-service.ts';
import { createMemoryLedgerStore } from '#server/ledger/memory-store.ts';
import type { Scheduler } from '#server/scheduler/scheduler.ts';
import { createTaskService } from '#server/task-service/task-service.ts';
import { expectOk, onboard } from '#test/ledger-fixtures.ts';
import { createTestNetwork, signerFor, T0, TEST_PARAMS, type TestNetwork } from '#test/network.ts';
import {
  fakePool,
  fakeScheduler,
  fakeWorker,
  languageEntry,
  languageOutput,
  signTask,
  TEXT,
  verifier,
  type FakeWorker,
} from '#test/task-service-fakes.ts';

const UNBONDING_MS = 60_000;
const STAKE = 500;
const entry = languageEntry();
let net: TestNetwork;
let ledger: LedgerService | undefined;
let clock = T0;
let accounts = 0;

beforeAll(async () => {
  // The fakes sign for the network of signerFor('relay').
  net = await createTestNetwork({ ...TEST_PARAMS, unbondingMs: UNBONDING_MS }, 'relay');
});
afterEach(async () => {
  await ledger?.stop();
  ledger = undefined;
});

interface Setup {
  readonly ledger: LedgerService;
  readonly worker: FakeWorker;
  readonly requester: Signer;
  readonly tasks: ReturnType<typeof createTaskService>;
}

/**
 * A ledger with a funded requester and a worker with {@link STAKE} staked,
 * and a task service whose one worker answers `label` (the pool answers
 * English) and, when `unstakeAfterAnswer`, unstakes everything right after
 * answering, before the relay has even read its answer.
 */
async function setup(label: 'eng' | 'fra', unstakeAfterAnswer: boolean): Promise<Setup> {
  accounts++;
  clock = T0;
  const service = createLedgerService({
    store: createMemoryLedgerStore(),
    producer: net.relay,
    verifier: createNodeVerifier(),
    params: net.params,
    blockIntervalMs: 20,
    now: () => clock,
  });
  ledger = service;
  await service.start();
  const requester = signerFor(`unbonding requester ${accounts}`);
  const worker = fakeWorker(`unbonding ${accounts}`, entry);
  worker.answer = () => languageOutput(label);
  expectOk(await onboard(service, net, requester));
  expectOk(await onboard(service, net, worker.signer));
  expectOk(await service.submit(await accountTx(worker.signer, 'tx/stake', STAKE, 1)));

  const inner = fakeScheduler([worker]);
  const scheduler: Pick<Scheduler, 'pick' | 'dispatch' | 'workers' | 'hold'> = {
    ...inner,
    async dispatch(...args) {
      const answered = await inner.dispatch(...args);
      if (unstakeAfterAnswer) expectOk(await service.submit(await accountTx(worker.signer, 'tx/unstake', STAKE, 2)));
      return answered;
    },
  };
  const tasks = createTaskService({
    ledger: service,
    pool: fakePool(),
    scheduler,
    catalogue: () => Promise.resolve({ v: 1, models: [entry] }),
    signer: net.relay,
    verifier,
    now: () => clock,
    // Every answer is re-checked (on the pool: there are no audit accounts); a slash takes all.
    trust: { canaryRate: 0, recheckRate: 1 },
  });
  return { ledger: service, worker, requester, tasks };
}

function accountTx(signer: Signer, type: 'tx/stake' | 'tx/unstake', amount: number, seq: number) {
  return signTransaction(signer, type, { v: 1, net: net.relay.accountId, amount, seq });
}

async function runTask(s: Setup) {
  const { bytes, id } = await signTask(s.requester, entry, TEXT, { maxPrice: 30 });
  await s.tasks.submit(bytes, TEXT);
  await s.tasks.idle();
  return s.tasks.get(id);
}

const holdings = (s: Setup) => {
  const account = s.ledger.account(s.worker.signer.accountId);
  const unbonding = s.ledger.unbonding(s.worker.signer.accountId);
  return { balance: account.balance, stake: account.stake, unbonding: unbonding.reduce((n, u) => n + u.amount, 0) };
};

/** Moves the ledger's clock and waits for the release the relay signs by itself. */
async function waitForRelease(s: Setup, until: (h: ReturnType<typeof holdings>) => boolean): Promise<void> {
  await vi.waitFor(
    () => {
      expect(until(holdings(s))).toBe(true);
    },
    { timeout: 2000, interval: 10 },
  );
}

describe('stake that answers for work', () => {
  it('slashes a worker that lied and unstaked everything right after answering', async () => {
    const s = await setup('fra', true);
    const relayBefore = s.ledger.balance(net.relay.accountId);
    const task = await runTask(s);
    // The requester got the pool's honest answer; the liar was not paid.
    expect(task.state).toBe('settled');
    expect(task.worker).not.toBe(s.worker.signer.accountId);
    expect(s.tasks.trustTally()).toMatchObject({ slashedTokens: STAKE });
    // Its whole stake was unbonding, and the slash took it from there.
    expect(holdings(s)).toEqual({ balance: 1000 - STAKE, stake: 0, unbonding: 0 });
    expect(s.ledger.balance(net.relay.accountId)).toBeGreaterThanOrEqual(relayBefore + STAKE);
    // After the period there is nothing to give back.
    clock += UNBONDING_MS + 1;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(holdings(s)).toEqual({ balance: 1000 - STAKE, stake: 0, unbonding: 0 });
    expect(totalValue(s.ledger.state)).toBe(s.ledger.state.supply);
  });

  it('gives an honest worker that unstakes after its work all of its stake back after the period', async () => {
    const s = await setup('eng', false);
    const task = await runTask(s);
    expect(task).toMatchObject({ state: 'settled', worker: s.worker.signer.accountId });
    const paid = holdings(s).balance - (1000 - STAKE);
    expect(paid).toBeGreaterThan(0);
    const unstake = expectOk(await s.ledger.submit(await accountTx(s.worker.signer, 'tx/unstake', STAKE, 2)));
    // The period counts from the block that holds the unstake.
    await vi.waitFor(
      async () => {
        expect((await s.ledger.tx(unstake.id))?.block).toBeDefined();
      },
      {
        timeout: 2000,
        interval: 10,
      },
    );
    const [unbond] = s.ledger.unbonding(s.worker.signer.accountId);
    expect(unbond?.amount).toBe(STAKE);
    expect(holdings(s)).toEqual({ balance: 1000 - STAKE + paid, stake: 0, unbonding: STAKE });

    clock = (unbond?.releaseAt ?? 0) - 1;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(holdings(s).unbonding).toBe(STAKE);
    clock += 1;
    await waitForRelease(s, (h) => h.unbonding === 0);
    expect(holdings(s)).toEqual({ balance: 1000 + paid, stake: 0, unbonding: 0 });
    expect(s.tasks.trustTally()).toMatchObject({ slashedTokens: 0 });
  });
});
