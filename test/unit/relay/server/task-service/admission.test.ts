/**
 * Admission and escrow: every check a submission must pass before anything is
 * escrowed, the escrow and the record, idempotent re-submission, the start of
 * the run after the answer, and cancels.
 */
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import { InsufficientFundsError } from '#core/ledger/errors.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { createAdmission } from '#server/task-service/admission.ts';
import type { DirectAssignment, DirectJob, DirectPath } from '#server/task-service/direct-path.ts';
import { createTaskBook, type TaskRecord, type TaskView } from '#server/task-service/task-book.ts';
import type { AuditJob } from '#server/trust/audit-tasks.ts';
import {
  fakeClock,
  fakeLedger,
  fakeWorker,
  languageEntry,
  signTask,
  TEXT,
  verifier,
} from '#test/task-service-fakes.ts';
import { signerFor, T0 } from '#test/network.ts';

const entry = languageEntry();
const relay = signerFor('relay');
const alice = signerFor('alice');
const mallory = signerFor('mallory');

interface Options {
  readonly offerTo?: ReturnType<typeof fakeWorker>;
  readonly admit?: (account: AccountId) => void;
  readonly start?: (task: TaskRecord) => Promise<void> | undefined;
}

function setup(options: Options = {}) {
  const ledger = fakeLedger(relay);
  const book = createTaskBook();
  const clock = fakeClock();
  const started: TaskRecord[] = [];
  const submitted: TaskView[] = [];
  const assigned: DirectAssignment[] = [];
  const gaveUp: DirectJob[] = [];
  const cancelled: TaskRecord[] = [];
  const errors: unknown[] = [];
  const direct: Pick<DirectPath, 'pick' | 'offer' | 'assign' | 'withOffer' | 'giveUp'> = {
    pick: () => options.offerTo?.info,
    offer: (id, _entry, worker) =>
      Promise.resolve({
        worker,
        offer: { worker: worker.account, addrs: [], assignment: new Uint8Array([1]), expiresAt: clock.now() + 1000 },
      }),
    assign(task, assignment) {
      assigned.push(assignment);
      task.direct = { offer: assignment.offer, worker: assignment.worker, outcome: 'waiting' } as DirectJob;
      book.move(task, 'assigned');
    },
    withOffer: (task, created) =>
      task.direct === undefined
        ? { task: task.view, created }
        : { task: task.view, created, direct: task.direct.offer },
    giveUp(job) {
      gaveUp.push(job);
      return true;
    },
  };
  const admission = createAdmission({
    ledger,
    verifier,
    catalogue: () => Promise.resolve({ v: 1, models: [entry] }),
    book,
    direct,
    settlement: {
      refundCancelled(task) {
        cancelled.push(task);
        book.move(task, 'refunded');
        return Promise.resolve();
      },
    },
    start:
      options.start ??
      ((task) => {
        started.push(task);
        return undefined;
      }),
    now: clock.now,
    events: { submitted: (task) => submitted.push(task) },
    admit: options.admit,
    onError: (error) => errors.push(error),
  });
  return { ledger, book, clock, started, submitted, assigned, gaveUp, cancelled, errors, admission };
}

async function signCancel(signer: typeof alice, task: string, net: AccountId = relay.accountId, ts = T0) {
  return encodeEnvelope(await signEnvelope(signer, 'task/cancel', { v: 1, net, task, ts }));
}

describe('admission', () => {
  it('escrows a valid task, records it pending at the relay’s price, and starts it', async () => {
    const { ledger, book, started, submitted, admission } = setup();
    const { bytes, id } = await signTask(alice, entry);
    const answer = await admission.submit(bytes, TEXT);
    expect(answer).toEqual({ task: book.get(id).view, created: true });
    expect(answer.task).toMatchObject({
      id,
      requester: alice.accountId,
      model: entry.id,
      state: 'pending',
      price: 10,
      maxPrice: 30,
      units: 1,
      submittedAt: T0,
      escrowTx: ledger.of('tx/escrow')[0]?.id,
    });
    expect(ledger.of('tx/escrow')).toEqual([expect.objectContaining({ payload: { task: bytes } })]);
    expect(submitted).toEqual([answer.task]);
    await admission.idle();
    expect(started.map((t) => t.view.id)).toEqual([id]);
  });

  it('answers a re-submission with the task it has, escrowing once', async () => {
    const { ledger, admission } = setup();
    const { bytes, id } = await signTask(alice, entry);
    await admission.submit(bytes, TEXT);
    const again = await admission.submit(bytes, TEXT);
    expect(again).toMatchObject({ created: false, task: { id } });
    expect(ledger.of('tx/escrow')).toHaveLength(1);
  });

  it.each([
    ['WrongNetworkError', 'wrong-network', { net: mallory.accountId }],
    ['ClockSkewError', 'clock-skew', { ts: T0 + 10 * 60_000 }],
    ['UnknownModelError', 'unknown-model', { model: languageEntry({ id: 'c'.repeat(64) as never }).id }],
    ['InputMismatchError', 'input-mismatch', { inputBytes: TEXT.length + 1 }],
    ['PriceTooLowError', 'price-too-low', { maxPrice: 9 }],
  ] as const)('refuses with %s (%s) before escrowing', async (name, code, overrides) => {
    const { ledger, admission } = setup();
    const { bytes } = await signTask(alice, entry, TEXT, overrides);
    await expect(admission.submit(bytes, TEXT)).rejects.toMatchObject({ name, code });
    expect(ledger.calls).toEqual([]);
  });

  it('refuses an input the model’s pipeline cannot read', async () => {
    const { ledger, admission } = setup();
    const input = new Uint8Array([0xff, 0xfe]);
    const { bytes } = await signTask(alice, entry, input);
    await expect(admission.submit(bytes, input)).rejects.toMatchObject({ code: 'invalid-model-input' });
    expect(ledger.calls).toEqual([]);
  });

  it('refuses a task that does not verify', async () => {
    const { admission } = setup();
    const { bytes } = await signTask(alice, entry);
    const forged = Uint8Array.from(bytes);
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    await expect(admission.submit(forged, TEXT)).rejects.toHaveProperty('code');
  });

  it('lets `admit` refuse a requester before anything is escrowed', async () => {
    const refused = new InsufficientFundsError('rate limited');
    const seen: AccountId[] = [];
    const { ledger, admission } = setup({
      admit(account) {
        seen.push(account);
        throw refused;
      },
    });
    const { bytes } = await signTask(alice, entry);
    await expect(admission.submit(bytes, TEXT)).rejects.toBe(refused);
    expect(seen).toEqual([alice.accountId]);
    expect(ledger.calls).toEqual([]);
  });

  it('throws the ledger’s refusal of the escrow and records nothing', async () => {
    const { ledger, book, admission } = setup();
    ledger.refuse('tx/escrow', new InsufficientFundsError('poor'));
    const { bytes, id } = await signTask(alice, entry);
    await expect(admission.submit(bytes, TEXT)).rejects.toMatchObject({
      name: 'InsufficientFundsError',
      code: 'insufficient-funds',
    });
    expect(book.has(id)).toBe(false);
  });

  it('assigns a direct task to the worker the direct path picks, and answers with its offer', async () => {
    const worker = fakeWorker('direct', entry);
    const { assigned, book, admission } = setup({ offerTo: worker });
    const { bytes, id } = await signTask(alice, entry);
    const answer = await admission.submit(bytes, TEXT, { route: 'direct' });
    expect(assigned.map((a) => a.worker.account)).toEqual([worker.info.account]);
    expect(answer.direct?.worker).toBe(worker.info.account);
    expect(book.get(id).view.state).toBe('assigned');
  });

  it('offers nothing for a brokered task, even with a direct worker at hand', async () => {
    const { assigned, admission } = setup({ offerTo: fakeWorker('direct', entry) });
    const { bytes } = await signTask(alice, entry);
    const answer = await admission.submit(bytes, TEXT);
    expect(assigned).toEqual([]);
    expect(answer.direct).toBeUndefined();
  });

  it('accepts an audit task brokered only, and gives up quietly when its escrow is refused', async () => {
    const { ledger, assigned, admission } = setup({ offerTo: fakeWorker('direct', entry) });
    const audit = { kind: 'canary', worker: alice.accountId } as unknown as AuditJob;
    const first = await signTask(alice, entry);
    const accepted = await admission.accept({
      ...first,
      input: TEXT,
      entry,
      units: 1,
      price: 10,
      route: 'direct',
      audit,
    });
    expect(accepted?.audit).toBe(audit);
    expect(assigned).toEqual([]);
    ledger.refuse('tx/escrow', new InsufficientFundsError('poor'));
    const second = await signTask(alice, entry);
    await expect(
      admission.accept({ ...second, input: TEXT, entry, units: 1, price: 10, route: 'brokered', audit }),
    ).resolves.toBeUndefined();
  });

  it('reports a run that rejects, and waits for running tasks in idle()', async () => {
    let finish: () => void = () => undefined;
    const { errors, admission } = setup({
      start: () =>
        new Promise<void>((_resolve, reject) => {
          finish = () => {
            reject(new Error('run failed'));
          };
        }),
    });
    const { bytes } = await signTask(alice, entry);
    await admission.submit(bytes, TEXT);
    let idle = false;
    const waiting = admission.idle().then(() => {
      idle = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    finish();
    await waiting;
    expect(errors).toEqual([expect.objectContaining({ message: 'run failed' })]);
  });

  describe('cancel', () => {
    it('cancels a pending task with the requester’s signed cancel and refunds it', async () => {
      const { cancelled, admission } = setup();
      const { bytes, id } = await signTask(alice, entry);
      await admission.submit(bytes, TEXT);
      const view = await admission.cancel(id, await signCancel(alice, id));
      expect(view.state).toBe('refunded');
      expect(cancelled.map((t) => t.view.id)).toEqual([id]);
    });

    it('stops a waiting direct task from waiting', async () => {
      const { gaveUp, admission } = setup({ offerTo: fakeWorker('direct', entry) });
      const { bytes, id } = await signTask(alice, entry);
      await admission.submit(bytes, TEXT, { route: 'direct' });
      await admission.cancel(id, await signCancel(alice, id));
      expect(gaveUp).toHaveLength(1);
    });

    it('refuses a cancel by someone else, or for another task or network, with ForbiddenError', async () => {
      const { cancelled, admission } = setup();
      const { bytes, id } = await signTask(alice, entry);
      await admission.submit(bytes, TEXT);
      const forbidden = { name: 'ForbiddenError', code: 'forbidden' };
      await expect(admission.cancel(id, await signCancel(mallory, id))).rejects.toMatchObject(forbidden);
      await expect(admission.cancel(id, await signCancel(alice, 'd'.repeat(64)))).rejects.toMatchObject(forbidden);
      await expect(admission.cancel(id, await signCancel(alice, id, mallory.accountId))).rejects.toMatchObject(
        forbidden,
      );
      expect(cancelled).toEqual([]);
    });

    it('refuses a stale cancel, and a task that has started, with NotCancellableError', async () => {
      const { book, admission } = setup();
      const { bytes, id } = await signTask(alice, entry);
      await admission.submit(bytes, TEXT);
      await expect(
        admission.cancel(id, await signCancel(alice, id, relay.accountId, T0 - 2 * 86_400_000)),
      ).rejects.toMatchObject({
        code: 'clock-skew',
      });
      const task = book.get(id);
      book.move(task, 'assigned');
      book.move(task, 'running');
      await expect(admission.cancel(id, await signCancel(alice, id))).rejects.toMatchObject({
        name: 'NotCancellableError',
        code: 'not-cancellable',
      });
    });
  });
});
