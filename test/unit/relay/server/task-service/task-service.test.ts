/**
 * The task service as its callers see it, wired from its parts over fakes: a
 * brokered task runs and settles on a worker, a direct task settles from the
 * receipt the requester brings, and the refusals keep their names and codes.
 */
import { describe, expect, it } from 'vitest';
import { createTaskService } from '#server/task-service/task-service.ts';
import {
  fakeClock,
  fakeLedger,
  fakePool,
  fakeScheduler,
  fakeWorker,
  languageEntry,
  languageOutput,
  signReceipt,
  signTask,
  TEXT,
  verifier,
} from '#test/task-service-fakes.ts';
import { signerFor } from '#test/network.ts';
import type { LedgerService } from '#server/ledger/ledger-service.ts';

const entry = languageEntry();
const relay = signerFor('relay');
const alice = signerFor('alice');

function setup() {
  const ledger = fakeLedger(relay);
  const worker = fakeWorker('worker', entry);
  ledger.set(worker.info.account, { stake: ledger.params.minWorkerStake });
  const scheduler = fakeScheduler([worker]);
  const pool = fakePool();
  const clock = fakeClock();
  const errors: unknown[] = [];
  const tasks = createTaskService({
    ledger: ledger as unknown as LedgerService,
    pool,
    scheduler,
    catalogue: () => Promise.resolve({ v: 1, models: [entry] }),
    signer: relay,
    verifier,
    now: clock.now,
    trust: { canaryRate: 0, recheckRate: 0 },
    onError: (error) => errors.push(error),
  });
  return { ledger, worker, scheduler, pool, errors, tasks };
}

describe('task service', () => {
  it('runs a brokered task on a staked worker and hands out the settled result', async () => {
    const { ledger, worker, tasks } = setup();
    const { bytes, id } = await signTask(alice, entry);
    const { task, created } = await tasks.submit(bytes, TEXT);
    expect({ id: task.id, created }).toEqual({ id, created: true });
    await tasks.idle();
    expect(tasks.get(id)).toMatchObject({ state: 'settled', worker: worker.info.account });
    expect(tasks.result(id)?.output).toEqual(languageOutput('eng'));
    expect(tasks.list({ account: alice.accountId }).map((t) => t.id)).toEqual([id]);
    expect(ledger.of('tx/settle')).toHaveLength(1);
    expect(tasks.trustTally().runs.task).toBe(1);
  });

  it('settles a direct task from the receipt the requester brings', async () => {
    const { worker, scheduler, tasks } = setup();
    const { bytes, id } = await signTask(alice, entry);
    const { direct } = await tasks.submit(bytes, TEXT, { route: 'direct' });
    expect(direct?.worker).toBe(worker.info.account);
    const output = languageOutput('eng');
    const receipt = await signReceipt(worker.signer, relay.accountId, id, entry.id, output);
    await expect(tasks.submitReceipt(id, receipt, output)).resolves.toMatchObject({ state: 'settled' });
    await tasks.idle();
    expect(scheduler.dispatched).toEqual([]);
  });

  it('refuses with typed errors: unknown tasks, and receipts for tasks not on the direct path', async () => {
    const { tasks } = setup();
    const { bytes, id } = await signTask(alice, entry);
    expect(() => tasks.get('f'.repeat(64) as typeof id)).toThrow(
      expect.objectContaining({ name: 'UnknownTaskError', code: 'unknown-task' }),
    );
    await tasks.submit(bytes, TEXT);
    await expect(tasks.submitReceipt(id, new Uint8Array([1]), new Uint8Array([2]))).rejects.toMatchObject({
      name: 'DirectPathError',
      code: 'not-direct',
    });
    await tasks.idle();
  });

  it('refunds escrows it does not hold', async () => {
    const { ledger, tasks } = setup();
    ledger.escrows.set('a'.repeat(64) as never, { payer: alice.accountId, model: entry.id, amount: 1, status: 'open' });
    await expect(tasks.refundOrphans()).resolves.toBe(1);
  });
});
