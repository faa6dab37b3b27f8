/**
 * Audit tasks: signed by an audit account, escrowed through admission like
 * any task and sent to one worker only; the worker's answer waits for the
 * check's verdict, and the task is paid or refunded by it.
 */
import { describe, expect, it } from 'vitest';
import type { Signer } from '#core/identity/signer.ts';
import { WorkerFailedError } from '#server/scheduler/errors.ts';
import type { AdmittedTask } from '#server/task-service/admission.ts';
import { createSettlement } from '#server/task-service/settlement.ts';
import { createTaskBook, type TaskRecord } from '#server/task-service/task-book.ts';
import { createTaskRunner } from '#server/task-service/task-runner.ts';
import { createAuditTasks } from '#server/trust/audit-tasks.ts';
import { createTrustTally } from '#server/trust/trust-tally.ts';
import {
  fakeClock,
  fakeLedger,
  fakePool,
  fakeScheduler,
  fakeWorker,
  languageEntry,
  pendingTask,
  TEXT,
  verifier,
} from '#test/task-service-fakes.ts';
import { signerFor, T0 } from '#test/network.ts';

const entry = languageEntry();
const relay = signerFor('relay');
const auditor = signerFor('auditor');

function setup(options: { auditor?: Signer | undefined; refuse?: boolean } = {}) {
  const ledger = fakeLedger(relay);
  const worker = fakeWorker('audited', entry);
  ledger.set(worker.info.account, { stake: ledger.params.minWorkerStake });
  const book = createTaskBook();
  const clock = fakeClock(T0 + 9);
  const picked: number[] = [];
  const accepted: AdmittedTask[] = [];
  const scheduler = fakeScheduler([worker]);
  const runner = createTaskRunner({
    ledger,
    pool: fakePool(),
    scheduler,
    signer: relay,
    reputation: { recordFailure: () => undefined },
    tally: createTrustTally(),
  });
  const audits = createAuditTasks({
    ledger,
    verifier,
    auditors: {
      pick(amount) {
        picked.push(amount);
        return Promise.resolve('auditor' in options ? options.auditor : auditor);
      },
    },
    admission: {
      async accept(admitted) {
        accepted.push(admitted);
        if (options.refuse === true) return undefined;
        const record = await pendingTask(auditor, entry);
        const task: TaskRecord = {
          ...record,
          message: admitted.message,
          bytes: admitted.bytes,
          view: { ...record.view, id: admitted.message.id as TaskRecord['view']['id'] },
          ...(admitted.audit === undefined ? {} : { audit: admitted.audit }),
        };
        book.add(task);
        return task;
      },
    },
    book,
    runner,
    settlement: createSettlement({ ledger, book }),
    random: () => 0.7,
    now: clock.now,
    nonce: () => new Uint8Array(16).fill(3),
  });
  return { ledger, worker, scheduler, book, picked, accepted, audits };
}

describe('audit tasks', () => {
  it('signs a task with an audit account, offering a little over the price, and escrows it brokered for one worker', async () => {
    const { worker, picked, accepted, audits } = setup();
    const handle = await audits.start('canary', worker.info.account, entry, TEXT);
    // 0.7 draws two extra units of 10 over the price of 10.
    expect(picked).toEqual([30]);
    expect(accepted).toHaveLength(1);
    const admitted = accepted[0] as AdmittedTask;
    expect(admitted).toMatchObject({ route: 'brokered', units: 1, entry, input: TEXT });
    expect(admitted.audit).toMatchObject({ kind: 'canary', worker: worker.info.account });
    expect(admitted.message.signer).toBe(auditor.accountId);
    expect(admitted.message.payload).toMatchObject({
      net: relay.accountId,
      model: entry.id,
      inputBytes: TEXT.length,
      maxPrice: 30,
      nonce: new Uint8Array(16).fill(3),
      ts: T0 + 9,
    });
    expect(handle?.task).toBe(admitted.message.id);
  });

  it('starts none for an input the model cannot read, without an audit account that can pay, or when refused', async () => {
    const unreadable = setup();
    await expect(
      unreadable.audits.start('recheck', unreadable.worker.info.account, entry, new Uint8Array([0xff])),
    ).resolves.toBeUndefined();
    expect(unreadable.picked).toEqual([]);
    const poor = setup({ auditor: undefined });
    await expect(poor.audits.start('recheck', poor.worker.info.account, entry, TEXT)).resolves.toBeUndefined();
    expect(poor.accepted).toEqual([]);
    const refused = setup({ refuse: true });
    await expect(refused.audits.start('recheck', refused.worker.info.account, entry, TEXT)).resolves.toBeUndefined();
  });

  async function started(judge: boolean) {
    const context = setup();
    const handle = await context.audits.start('canary', context.worker.info.account, entry, TEXT);
    if (handle === undefined) throw new Error('no audit');
    const task = context.book.get(handle.task);
    if (task.audit === undefined) throw new Error('not an audit task');
    const running = context.audits.run(task, task.audit);
    const answer = await handle.answer;
    handle.judge(judge);
    await running;
    return { ...context, task, answer };
  }

  it('runs on its one worker and pays it once judged right', async () => {
    const { ledger, worker, task, answer } = await started(true);
    expect(answer?.worker).toBe(worker.info.account);
    expect(task.view).toMatchObject({ state: 'settled', worker: worker.info.account });
    expect(ledger.of('tx/settle')).toHaveLength(1);
  });

  it('refunds it once judged wrong', async () => {
    const { ledger, task } = await started(false);
    expect(task.view.state).toBe('refunded');
    expect(ledger.of('tx/settle')).toEqual([]);
    expect(ledger.of('tx/refund')[0]?.payload).toMatchObject({ reason: 'failed' });
  });

  it('answers undefined and refunds when the worker fails', async () => {
    const context = setup();
    context.worker.answer = () => new WorkerFailedError('error', context.worker.info.account, 'declined');
    const handle = await context.audits.start('recheck', context.worker.info.account, entry, TEXT);
    if (handle === undefined) throw new Error('no audit');
    const task = context.book.get(handle.task);
    if (task.audit === undefined) throw new Error('not an audit task');
    await context.audits.run(task, task.audit);
    await expect(handle.answer).resolves.toBeUndefined();
    expect(task.view).toMatchObject({ state: 'refunded', error: { code: 'worker-failed' } });
  });

  it('sends the task to the audited worker only, once', async () => {
    const { worker, scheduler, task } = await started(true);
    expect(scheduler.dispatched).toEqual([{ worker: worker.info.account, task: task.view.id, timeoutMs: 15_000 }]);
  });
});
