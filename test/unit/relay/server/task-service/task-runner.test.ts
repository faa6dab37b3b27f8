/** Where a task runs: staked workers only, a failed dispatch lowers the worker's standing, pool runs signed by the relay. */
import { describe, expect, it } from 'vitest';
import { readMessage } from '#core/envelope/envelope.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { WorkerFailedError, type WorkerFailureReason } from '#server/scheduler/errors.ts';
import { createTaskRunner } from '#server/task-service/task-runner.ts';
import { createTrustTally } from '#server/trust/trust-tally.ts';
import {
  fakeClock,
  fakeLedger,
  fakePool,
  fakeScheduler,
  fakeWorker,
  languageEntry,
  languageOutput,
  pendingTask,
  verifier,
} from '#test/task-service-fakes.ts';
import { signerFor, T0 } from '#test/network.ts';

const entry = languageEntry();
const relay = signerFor('relay');
const alice = signerFor('alice');

function setup(withScheduler = true) {
  const ledger = fakeLedger(relay);
  const pool = fakePool();
  const staked = fakeWorker('staked', entry);
  const unstaked = fakeWorker('unstaked', entry);
  const second = fakeWorker('second', entry);
  ledger.set(staked.info.account, { stake: ledger.params.minWorkerStake });
  ledger.set(second.info.account, { stake: ledger.params.minWorkerStake });
  ledger.set(unstaked.info.account, { stake: ledger.params.minWorkerStake - 1 });
  const scheduler = fakeScheduler([unstaked, staked, second]);
  const failures: { account: AccountId; reason: WorkerFailureReason }[] = [];
  const tally = createTrustTally();
  const clock = fakeClock(T0 + 5);
  const runner = createTaskRunner({
    ledger,
    pool,
    scheduler: withScheduler ? scheduler : undefined,
    signer: relay,
    reputation: { recordFailure: (account, reason) => failures.push({ account, reason }) },
    tally,
    workerTimeoutMs: 1234,
    now: clock.now,
  });
  return { ledger, pool, scheduler, staked, unstaked, second, failures, tally, runner };
}

describe('task runner', () => {
  it('picks only staked workers, leaving out the excluded ones', () => {
    const { runner, staked, second } = setup();
    expect(runner.pickWorker(entry, [])?.account).toBe(staked.info.account);
    expect(runner.pickWorker(entry, [staked.info.account])?.account).toBe(second.info.account);
    expect(runner.pickWorker(entry, [staked.info.account, second.info.account])).toBeUndefined();
    expect(runner.workers()).toHaveLength(3);
  });

  it('without a scheduler has no workers, and refuses to dispatch', async () => {
    const { runner, staked } = setup(false);
    expect(runner.workers()).toEqual([]);
    expect(runner.pickWorker(entry, [])).toBeUndefined();
    await expect(runner.onWorker(await pendingTask(alice, entry), staked.info.account, 'task')).rejects.toThrow(Error);
  });

  it('dispatches to a worker with the timeout and hands back its signed run, counting the compute', async () => {
    const { runner, scheduler, staked, tally } = setup();
    const task = await pendingTask(alice, entry);
    const run = await runner.onWorker(task, staked.info.account, 'recheck');
    expect(scheduler.dispatched).toEqual([{ worker: staked.info.account, task: task.view.id, timeoutMs: 1234 }]);
    expect(run.worker).toBe(staked.info.account);
    expect(run.output).toEqual(languageOutput('eng'));
    const receipt = readMessage(run.receipt, 'receipt', decodeReceiptPayload, verifier);
    expect(receipt.ok && receipt.value.signer).toBe(staked.info.account);
    expect(run.outputHash).toBe(receipt.ok ? receipt.value.payload.output : undefined);
    expect(tally.snapshot().runs.recheck).toBe(1);
    expect(tally.snapshot().computeMs.recheck).toBe(11);
  });

  it('lowers the reputation of a worker whose dispatch failed, and throws the failure', async () => {
    const { runner, staked, failures } = setup();
    staked.answer = () => new WorkerFailedError('timeout', staked.info.account, 'too slow');
    const task = await pendingTask(alice, entry);
    await expect(runner.onWorker(task, staked.info.account, 'task')).rejects.toMatchObject({
      name: 'WorkerFailedError',
      reason: 'timeout',
    });
    expect(failures).toEqual([{ account: staked.info.account, reason: 'timeout' }]);
  });

  it('leaves the reputation alone for other errors', async () => {
    const { runner, staked, failures } = setup();
    staked.answer = () => new TypeError('bad task');
    await expect(runner.onWorker(await pendingTask(alice, entry), staked.info.account, 'task')).rejects.toThrow(
      TypeError,
    );
    expect(failures).toEqual([]);
  });

  it('runs on the pool and signs the receipt as the relay, at the clock’s time', async () => {
    const { runner, pool, tally } = setup();
    const task = await pendingTask(alice, entry);
    const run = await runner.onPool(task, 'task');
    expect(pool.runs).toEqual([{ model: entry.id, input: task.input }]);
    expect(run.worker).toBe(relay.accountId);
    expect(runner.account).toBe(relay.accountId);
    const receipt = readMessage(run.receipt, 'receipt', decodeReceiptPayload, verifier);
    if (!receipt.ok) throw receipt.error;
    expect(receipt.value.signer).toBe(relay.accountId);
    expect(receipt.value.payload).toMatchObject({
      net: relay.accountId,
      task: task.view.id,
      model: entry.id,
      output: run.outputHash,
      outputBytes: run.output.length,
      runMs: 7,
      ts: T0 + 5,
    });
    expect(tally.snapshot().runs.task).toBe(1);
  });
});
