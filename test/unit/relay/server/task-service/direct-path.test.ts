/**
 * The direct path: a task assigned to a worker the requester dials, settled
 * from the worker's receipt the requester brings back, or sent the brokered
 * way on a fallback, a late receipt, the deadline or a proven wrong answer.
 * Every refusal is a DirectPathError told apart by its code.
 */
import { describe, expect, it } from 'vitest';
import { checkAssignment, signFallbackRequest } from '#core/messages/assignment.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { createDirectPath } from '#server/task-service/direct-path.ts';
import { createSettlement } from '#server/task-service/settlement.ts';
import { createTaskBook, type TaskRecord } from '#server/task-service/task-book.ts';
import { createTaskRunner } from '#server/task-service/task-runner.ts';
import { createTrustTally } from '#server/trust/trust-tally.ts';
import type { WorkerChecks } from '#server/trust/worker-checks.ts';
import {
  fakeClock,
  fakeLedger,
  fakePool,
  fakeScheduler,
  fakeWorker,
  flush,
  languageEntry,
  languageOutput,
  pendingTask,
  signReceipt,
  verifier,
} from '#test/task-service-fakes.ts';
import { signerFor, T0 } from '#test/network.ts';

const entry = languageEntry();
const relay = signerFor('relay');
const alice = signerFor('alice');
const mallory = signerFor('mallory');
const output = languageOutput('eng');

function setup() {
  const ledger = fakeLedger(relay);
  const direct = fakeWorker('direct', entry);
  const hidden = fakeWorker('hidden', entry, { addrs: ['/ip4/127.0.0.1/tcp/1/ws'] });
  for (const worker of [hidden, direct]) ledger.set(worker.info.account, { stake: ledger.params.minWorkerStake });
  const scheduler = fakeScheduler([hidden, direct]);
  const book = createTaskBook();
  const clock = fakeClock();
  const tally = createTrustTally();
  const runner = createTaskRunner({
    ledger,
    pool: fakePool(),
    scheduler,
    signer: relay,
    reputation: { recordFailure: () => undefined },
    tally,
  });
  const settlement = createSettlement({ ledger, book, now: clock.now });
  const rejected = new Set<AccountId>();
  const checks: Pick<WorkerChecks, 'maybeCanary' | 'check'> = {
    maybeCanary: () => undefined,
    check: (_task, run) => Promise.resolve(rejected.has(run.worker) ? undefined : run),
  };
  const brokeredRuns: { task: TaskId; exclude: readonly AccountId[] }[] = [];
  const deadlines: { ms: number; controller: AbortController }[] = [];
  const path = createDirectPath({
    ledger,
    signer: relay,
    verifier,
    book,
    runner,
    scheduler,
    checks,
    settlement,
    brokered: {
      run(task, exclude = []) {
        brokeredRuns.push({ task: task.view.id, exclude });
        return Promise.resolve();
      },
    },
    tally,
    now: clock.now,
    timeout(ms) {
      const controller = new AbortController();
      deadlines.push({ ms, controller });
      return controller.signal;
    },
    assignmentTtlMs: 1000,
    receiptGraceMs: 500,
  });

  /** A task assigned to the direct worker, its run under way. */
  async function assigned(): Promise<{ task: TaskRecord; running: Promise<void> }> {
    const task = await pendingTask(alice, entry);
    book.add(task);
    const worker = path.pick(entry);
    if (worker === undefined) throw new Error('no direct worker');
    path.assign(task, await path.offer(task.view.id, entry, worker));
    const job = task.direct;
    if (job === undefined) throw new Error('not assigned');
    return { task, running: path.run(task, job) };
  }

  const receiptFor = (task: TaskRecord, signer: Signer = direct.signer, bytes = output) =>
    signReceipt(signer, relay.accountId, task.view.id, entry.id, bytes);

  const fallbackFor = (task: TaskRecord, signer: Signer = alice, net: AccountId = relay.accountId) =>
    signFallbackRequest(signer, { v: 1, net, task: task.view.id, ts: T0 });

  return {
    ledger,
    direct,
    hidden,
    scheduler,
    book,
    clock,
    tally,
    rejected,
    brokeredRuns,
    deadlines,
    path,
    assigned,
    receiptFor,
    fallbackFor,
  };
}

const refusal = (code: string) => ({ name: 'DirectPathError', code });

/** The outcome of a call as a promise, whether it throws at once (as `fallback` does) or rejects. */
const attempt = <T>(call: () => Promise<T>): Promise<T> => Promise.resolve().then(call);

describe('direct path', () => {
  it('picks only a staked worker the requester can dial over WebRTC', () => {
    const { path, direct } = setup();
    expect(path.pick(entry)?.account).toBe(direct.info.account);
  });

  it('signs an assignment the worker accepts, until the offer expires', async () => {
    const { path, direct, clock } = setup();
    clock.advance(100);
    const id = 'a'.repeat(64) as TaskId;
    const { offer } = await path.offer(id, entry, direct.info);
    expect(offer).toMatchObject({ worker: direct.info.account, addrs: direct.info.advert.addrs, expiresAt: T0 + 1100 });
    const expectation = { verifier, network: relay.accountId, worker: direct.info.account, task: id };
    expect(checkAssignment(offer.assignment, { ...expectation, now: T0 + 1100 }).ok).toBe(true);
  });

  it('assigns the task, counts it in the worker’s load until decided, and answers with the offer while open', async () => {
    const { scheduler, clock, path, direct, assigned, receiptFor } = setup();
    const { task, running } = await assigned();
    expect(task.view).toMatchObject({ state: 'assigned', worker: direct.info.account });
    expect(scheduler.held).toEqual([direct.info.account]);
    expect(path.withOffer(task, true).direct?.worker).toBe(direct.info.account);
    clock.advance(1001);
    expect(path.withOffer(task, false)).toEqual({ task: task.view, created: false });
    clock.advance(-1001);
    await path.submitReceipt(task.view.id, await receiptFor(task), output);
    await running;
    expect(scheduler.held).toEqual([]);
  });

  it('settles the worker’s receipt, pays the worker, and answers a retry of the same receipt', async () => {
    const { ledger, tally, path, direct, assigned, receiptFor } = setup();
    const { task, running } = await assigned();
    const receipt = await receiptFor(task);
    const view = await path.submitReceipt(task.view.id, receipt, output);
    expect(view).toMatchObject({ state: 'settled', worker: direct.info.account });
    expect(ledger.of('tx/settle')[0]?.payload).toMatchObject({ task: task.view.id, receipt });
    expect(task.output).toEqual(output);
    expect(tally.snapshot().runs.task).toBe(1);
    await expect(path.submitReceipt(task.view.id, receipt, output)).resolves.toBe(task.view);
    await expect(
      path.submitReceipt(
        task.view.id,
        await receiptFor(task, direct.signer, languageOutput('fra')),
        languageOutput('fra'),
      ),
    ).rejects.toMatchObject(refusal('already-answered'));
    await running;
  });

  it.each([
    { code: 'bad-receipt', why: 'a receipt that does not verify' },
    { code: 'wrong-signer', why: 'a receipt signed by another worker' },
    { code: 'output-mismatch', why: 'an output other than the receipt’s' },
    { code: 'worker-unstaked', why: 'a worker that unstaked since' },
  ] as const)('refuses with $code $why, keeping the task waiting', async ({ code }) => {
    const { ledger, direct, path, assigned, receiptFor } = setup();
    const { task } = await assigned();
    let receipt = await receiptFor(task);
    let bytes = output;
    if (code === 'bad-receipt') receipt = new Uint8Array([1, 2, 3]);
    if (code === 'wrong-signer') receipt = await receiptFor(task, mallory);
    if (code === 'output-mismatch') bytes = languageOutput('fra');
    if (code === 'worker-unstaked') ledger.set(direct.info.account, { stake: 0 });
    await expect(path.submitReceipt(task.view.id, receipt, bytes)).rejects.toMatchObject(refusal(code));
    expect(task.view.state).toBe('assigned');
    expect(task.direct?.outcome).toBe('waiting');
  });

  it('refuses a receipt for another task as bad-receipt', async () => {
    const { path, assigned, direct } = setup();
    const { task } = await assigned();
    const other = await signReceipt(direct.signer, relay.accountId, 'b'.repeat(64) as TaskId, entry.id, output);
    await expect(path.submitReceipt(task.view.id, other, output)).rejects.toMatchObject(refusal('bad-receipt'));
  });

  it('refuses a late receipt with assignment-expired and runs the task brokered', async () => {
    const { clock, brokeredRuns, path, assigned, receiptFor } = setup();
    const { task, running } = await assigned();
    clock.advance(1000 + 500 + 1);
    await expect(path.submitReceipt(task.view.id, await receiptFor(task), output)).rejects.toMatchObject(
      refusal('assignment-expired'),
    );
    await running;
    expect(brokeredRuns).toEqual([{ task: task.view.id, exclude: [] }]);
    expect(task.view.state).toBe('pending');
    await expect(path.submitReceipt(task.view.id, await receiptFor(task), output)).rejects.toMatchObject(
      refusal('direct-closed'),
    );
  });

  it('gives up at the deadline (expiry plus grace) and runs the task brokered', async () => {
    const { deadlines, brokeredRuns, path, assigned } = setup();
    const { task, running } = await assigned();
    expect(deadlines.map((d) => d.ms)).toEqual([1500]);
    deadlines[0]?.controller.abort();
    await running;
    expect(brokeredRuns.map((r) => r.task)).toEqual([task.view.id]);
    expect(path.giveUp(task.direct as NonNullable<TaskRecord['direct']>)).toBe(false);
  });

  it('runs the task brokered, never on that worker, when its answer is rejected', async () => {
    const { rejected, brokeredRuns, direct, path, assigned, receiptFor } = setup();
    rejected.add(direct.info.account);
    const { task, running } = await assigned();
    await path.submitReceipt(task.view.id, await receiptFor(task), output);
    await running;
    expect(brokeredRuns).toEqual([{ task: task.view.id, exclude: [direct.info.account] }]);
  });

  it('refuses a receipt for a task not on the direct path with not-direct', async () => {
    const { book, path, receiptFor } = setup();
    const task = await pendingTask(alice, entry);
    book.add(task);
    await expect(path.submitReceipt(task.view.id, await receiptFor(task), output)).rejects.toMatchObject(
      refusal('not-direct'),
    );
    await expect(
      attempt(async () =>
        path.fallback(
          task.view.id,
          await signFallbackRequest(alice, { v: 1, net: relay.accountId, task: task.view.id, ts: T0 }),
        ),
      ),
    ).rejects.toMatchObject(refusal('not-direct'));
  });

  describe('fallback', () => {
    it('sends the task the brokered way on the requester’s request, once', async () => {
      const { brokeredRuns, path, assigned, fallbackFor } = setup();
      const { task, running } = await assigned();
      await expect(attempt(async () => path.fallback(task.view.id, await fallbackFor(task)))).resolves.toEqual({
        task: task.view,
        created: true,
      });
      await running;
      expect(brokeredRuns.map((r) => r.task)).toEqual([task.view.id]);
      await expect(attempt(async () => path.fallback(task.view.id, await fallbackFor(task)))).resolves.toMatchObject({
        created: false,
      });
    });

    it('refuses a request that does not verify, or names another task or network, with invalid-fallback', async () => {
      const { path, assigned, fallbackFor } = setup();
      const { task } = await assigned();
      await expect(attempt(async () => path.fallback(task.view.id, new Uint8Array([1])))).rejects.toMatchObject(
        refusal('invalid-fallback'),
      );
      await expect(
        attempt(async () => path.fallback(task.view.id, await fallbackFor(task, alice, mallory.accountId))),
      ).rejects.toMatchObject(refusal('invalid-fallback'));
      expect(task.direct?.outcome).toBe('waiting');
    });

    it('refuses a request by anyone but the requester with forbidden', async () => {
      const { path, assigned, fallbackFor } = setup();
      const { task } = await assigned();
      await expect(
        attempt(async () => path.fallback(task.view.id, await fallbackFor(task, mallory))),
      ).rejects.toMatchObject(refusal('forbidden'));
    });

    it('refuses a request once the worker’s receipt was accepted with already-answered', async () => {
      const { path, assigned, receiptFor, fallbackFor } = setup();
      const { task, running } = await assigned();
      await path.submitReceipt(task.view.id, await receiptFor(task), output);
      await running;
      await expect(attempt(async () => path.fallback(task.view.id, await fallbackFor(task)))).rejects.toMatchObject(
        refusal('already-answered'),
      );
    });
  });

  it('does nothing more for a task cancelled while it waited', async () => {
    const { book, brokeredRuns, path, assigned } = setup();
    const { task, running } = await assigned();
    book.move(task, 'cancelled');
    expect(path.giveUp(task.direct as NonNullable<TaskRecord['direct']>)).toBe(true);
    await running;
    await flush();
    expect(brokeredRuns).toEqual([]);
    expect(task.view.state).toBe('cancelled');
  });
});
