/**
 * The brokered run: the best staked worker runs the task with its checks and
 * is paid; failed or convicted workers are left out and the task moves on,
 * to the pool when none is left, which gets `maxAttempts` tries.
 */
import { describe, expect, it } from 'vitest';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import { InferenceFailedError } from '#node/pool/errors.ts';
import { CommitFailedError } from '#server/ledger/errors.ts';
import { WorkerFailedError } from '#server/scheduler/errors.ts';
import { createBrokeredRun } from '#server/task-service/brokered-run.ts';
import { createSettlement } from '#server/task-service/settlement.ts';
import { createTaskBook } from '#server/task-service/task-book.ts';
import { createTaskRunner } from '#server/task-service/task-runner.ts';
import { createTrustTally } from '#server/trust/trust-tally.ts';
import type { CanaryVerdict, WorkerChecks, WorkerRun } from '#server/trust/worker-checks.ts';
import {
  fakeLedger,
  fakePool,
  fakeScheduler,
  fakeWorker,
  languageEntry,
  pendingTask,
  type FakeWorker,
} from '#test/task-service-fakes.ts';
import { signerFor } from '#test/network.ts';

const entry = languageEntry();
const relay = signerFor('relay');
const alice = signerFor('alice');

/** Checks that accept every run except those of `convicted` workers, and note what they were asked. */
function fakeChecks(convicted: Set<AccountId>) {
  const canaries: AccountId[] = [];
  const checked: { run: WorkerRun; failed: readonly AccountId[]; canary: Promise<CanaryVerdict> | undefined }[] = [];
  const checks: Pick<WorkerChecks, 'maybeCanary' | 'check'> = {
    maybeCanary(worker) {
      canaries.push(worker.account);
      return Promise.resolve('passed');
    },
    check(_task, run, canary, failed) {
      checked.push({ run, failed: [...failed], canary });
      return Promise.resolve(convicted.has(run.worker) ? undefined : run);
    },
  };
  return { checks, canaries, checked };
}

function setup(fleet: FakeWorker[] = [], maxAttempts?: number) {
  const ledger = fakeLedger(relay);
  for (const worker of fleet) ledger.set(worker.info.account, { stake: ledger.params.minWorkerStake });
  const pool = fakePool();
  const scheduler = fakeScheduler(fleet);
  const book = createTaskBook();
  const tally = createTrustTally();
  const runner = createTaskRunner({
    ledger,
    pool,
    scheduler,
    signer: relay,
    reputation: { recordFailure: () => undefined },
    tally,
  });
  const settlement = createSettlement({ ledger, book });
  const convicted = new Set<AccountId>();
  const { checks, canaries, checked } = fakeChecks(convicted);
  const errors: { error: unknown; task: TaskId }[] = [];
  const brokered = createBrokeredRun({
    book,
    runner,
    checks,
    settlement,
    maxAttempts,
    onError: (error, task) => errors.push({ error, task }),
  });
  return { ledger, pool, scheduler, convicted, canaries, checked, errors, brokered };
}

describe('brokered run', () => {
  it('runs on the relay’s pool when no worker can take the task, and settles it', async () => {
    const { ledger, pool, brokered } = setup();
    const task = await pendingTask(alice, entry);
    await brokered.run(task);
    expect(pool.runs).toHaveLength(1);
    expect(task.view).toMatchObject({ state: 'settled', worker: relay.accountId });
    expect(ledger.of('tx/settle')).toHaveLength(1);
  });

  it('sends the task to a worker with a canary beside it, checks the answer and pays the worker', async () => {
    const worker = fakeWorker('one', entry);
    const { pool, scheduler, canaries, checked, brokered } = setup([worker]);
    const task = await pendingTask(alice, entry);
    await brokered.run(task);
    expect(scheduler.dispatched.map((d) => d.worker)).toEqual([worker.info.account]);
    expect(canaries).toEqual([worker.info.account]);
    expect(checked).toHaveLength(1);
    await expect(checked[0]?.canary).resolves.toBe('passed');
    expect(pool.runs).toEqual([]);
    expect(task.view).toMatchObject({ state: 'settled', worker: worker.info.account });
    expect(task.output).toEqual(checked[0]?.run.output);
  });

  it('moves on from a worker that fails, reporting the failure, without counting it against the task', async () => {
    const failing = fakeWorker('failing', entry);
    failing.answer = () => new WorkerFailedError('timeout', failing.info.account, 'silent');
    const honest = fakeWorker('honest', entry);
    const { scheduler, errors, brokered } = setup([failing, honest], 1);
    const task = await pendingTask(alice, entry);
    await brokered.run(task);
    expect(scheduler.dispatched.map((d) => d.worker)).toEqual([failing.info.account, honest.info.account]);
    expect(errors.map((e) => (e.error as Error).name)).toEqual(['WorkerFailedError']);
    expect(errors[0]?.task).toBe(task.view.id);
    expect(task.view).toMatchObject({ state: 'settled', worker: honest.info.account });
  });

  it('leaves out a worker whose answer the checks reject, telling the next check who failed', async () => {
    const liar = fakeWorker('liar', entry);
    const honest = fakeWorker('honest', entry);
    const { convicted, checked, errors, brokered } = setup([liar, honest]);
    convicted.add(liar.info.account);
    const task = await pendingTask(alice, entry);
    await brokered.run(task);
    expect(checked.map((c) => c.failed)).toEqual([[], [liar.info.account]]);
    expect(errors).toEqual([]);
    expect(task.view).toMatchObject({ state: 'settled', worker: honest.info.account });
  });

  it('never sends the task to a worker it was told to leave out', async () => {
    const worker = fakeWorker('one', entry);
    const { scheduler, brokered } = setup([worker]);
    const task = await pendingTask(alice, entry);
    await brokered.run(task, [worker.info.account]);
    expect(scheduler.dispatched).toEqual([]);
    expect(task.view.worker).toBe(relay.accountId);
  });

  it('fails and refunds a task once the pool failed it maxAttempts times', async () => {
    const { ledger, pool, errors, brokered } = setup([], 3);
    pool.answer = () => new InferenceFailedError('crashed');
    const task = await pendingTask(alice, entry);
    await brokered.run(task);
    expect(pool.runs).toHaveLength(3);
    expect(errors).toHaveLength(3);
    expect(task.view).toMatchObject({ state: 'refunded', error: { code: 'inference-failed' } });
    expect(ledger.of('tx/refund')[0]?.payload).toEqual({ task: task.view.id, reason: 'failed' });
  });

  it('tries the pool twice by default', async () => {
    const { pool, brokered } = setup();
    pool.answer = () => new InferenceFailedError('crashed');
    await brokered.run(await pendingTask(alice, entry));
    expect(pool.runs).toHaveLength(2);
  });

  it('stops at once when the input itself is at fault', async () => {
    const { pool, brokered } = setup([], 5);
    pool.answer = () => new InvalidModelInputError('not text');
    const task = await pendingTask(alice, entry);
    await brokered.run(task);
    expect(pool.runs).toHaveLength(1);
    expect(task.view).toMatchObject({ state: 'refunded', error: { code: 'invalid-model-input' } });
  });

  it('does not run again a task whose settlement failed: it stays verified, its escrow untouched', async () => {
    const { ledger, pool, errors, brokered } = setup([], 5);
    ledger.refuse('tx/settle', new CommitFailedError('disk full'));
    const task = await pendingTask(alice, entry);
    await brokered.run(task);
    expect(pool.runs).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(task.view.state).toBe('verified');
    expect(ledger.of('tx/refund')).toEqual([]);
  });
});
