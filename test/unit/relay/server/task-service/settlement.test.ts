/** Settlement: a checked run is paid and its output kept; a failed, cancelled or orphaned task is refunded. */
import { describe, expect, it } from 'vitest';
import { InsufficientFundsError } from '#core/ledger/errors.ts';
import type { TaskId } from '#core/identity/ids.ts';
import { InferenceFailedError } from '#node/pool/errors.ts';
import { createSettlement } from '#server/task-service/settlement.ts';
import { createTaskBook, type TaskView } from '#server/task-service/task-book.ts';
import type { WorkerRun } from '#server/trust/worker-checks.ts';
import { fakeClock, fakeLedger, languageEntry, languageOutput, pendingTask } from '#test/task-service-fakes.ts';
import { signerFor, T0 } from '#test/network.ts';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { Hash } from '#core/identity/ids.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { encodeTextResult } from '#core/pipelines/text-generation/result.ts';

const entry = languageEntry();
const alice = signerFor('alice');
const worker = signerFor('worker');

function setup() {
  const ledger = fakeLedger();
  const book = createTaskBook();
  const clock = fakeClock();
  const completed: TaskView[] = [];
  const settlement = createSettlement({
    ledger,
    book,
    now: clock.now,
    events: { completed: (task) => completed.push(task) },
  });
  return { ledger, book, clock, completed, settlement };
}

function runOf(output = languageOutput('eng')): WorkerRun {
  return { worker: worker.accountId, output, receipt: new Uint8Array([9, 9]), outputHash: sha256Hex(output) as Hash };
}

describe('settlement', () => {
  it('settles a completed run at the relay’s price, keeps its output and tells the world', async () => {
    const { ledger, book, clock, completed, settlement } = setup();
    const task = await pendingTask(alice, entry);
    book.add(task);
    book.move(task, 'assigned');
    book.move(task, 'running');
    clock.advance(250);
    const run = runOf();
    await settlement.settle(task, run);
    expect(ledger.of('tx/settle')).toEqual([
      expect.objectContaining({ payload: { task: task.view.id, receipt: run.receipt, price: 10 } }),
    ]);
    expect(task.view).toMatchObject({
      state: 'settled',
      worker: worker.accountId,
      outputHash: run.outputHash,
      price: 10,
      settleTx: ledger.of('tx/settle')[0]?.id,
      finishedAt: T0 + 250,
    });
    expect(task.output).toBe(run.output);
    expect(task.receipt).toBe(run.receipt);
    expect(completed).toEqual([task.view]);
  });

  it('never charges more than the task offered', async () => {
    const { ledger, book, settlement } = setup();
    const task = await pendingTask(alice, entry);
    task.view = { ...task.view, price: 50, maxPrice: 30 };
    book.move(task, 'assigned');
    book.move(task, 'running');
    await settlement.settle(task, runOf());
    expect(ledger.of('tx/settle')[0]?.payload.price).toBe(30);
  });

  describe('a language model’s task', () => {
    const textEntry = languageEntry({
      kind: 'text-generation',
      pre: 'text-generation',
      post: 'text-generation',
      textGeneration: {
        tokenizer: 'byte',
        template: 'plain',
        contextLength: 256,
        bos: 256,
        eos: [257],
        cache: { layers: 1, kvHeads: 1, headDim: 4 },
        price: { perThousandPrompt: 300, perThousandGenerated: 900 },
      },
    });
    /** "John 3:16 " and the beginning-of-text piece: 11 pieces; at most 100 generated. */
    const input = textGenerationPipeline.encodeInput(textGenerationInput({ prompt: 'John 3:16 ', maxPieces: 100 }));
    const answer = (pieces: number, promptPieces = 11) =>
      encodeTextResult({
        text: 'a'.repeat(pieces),
        pieces: Array.from({ length: pieces }, () => 97),
        promptPieces,
        finish: 'length',
      });

    async function running(maxPrice: number) {
      const task = await pendingTask(alice, textEntry, input, { maxPrice });
      // Admitted at the most it may cost: 11 × 300 + 100 × 900 per 1,000, rounded up.
      task.view = { ...task.view, price: 94, units: 100 };
      return task;
    }

    it('is paid for the pieces the relay counts in the prompt and the output, not the receipt’s', async () => {
      const { ledger, book, settlement } = setup();
      const task = await running(94);
      book.move(task, 'assigned');
      book.move(task, 'running');
      // The worker's counts are ignored: 11 prompt pieces (the relay's own count) and 40 generated.
      await settlement.settle(task, runOf(answer(40, 99)));
      const price = Math.ceil((11 * 300 + 40 * 900) / 1000);
      expect(ledger.of('tx/settle')[0]?.payload.price).toBe(price);
      expect(task.view).toMatchObject({ state: 'settled', price, units: 40 });
    });

    it('never above the task’s maxPrice', async () => {
      const { ledger, book, settlement } = setup();
      const task = await running(20);
      book.move(task, 'assigned');
      book.move(task, 'running');
      await settlement.settle(task, runOf(answer(40)));
      expect(ledger.of('tx/settle')[0]?.payload.price).toBe(20);
    });

    it('refuses an output it cannot price before the task moves on', async () => {
      const { ledger, book, settlement } = setup();
      const task = await running(94);
      book.move(task, 'assigned');
      book.move(task, 'running');
      await expect(settlement.settle(task, runOf(new Uint8Array([1, 2])))).rejects.toMatchObject({
        code: 'invalid-model-input',
      });
      expect(task.view.state).toBe('running');
      expect(ledger.calls).toEqual([]);
    });
  });

  it('throws the ledger’s refusal of a settlement, keeping no output', async () => {
    const { ledger, book, completed, settlement } = setup();
    const task = await pendingTask(alice, entry);
    book.move(task, 'assigned');
    book.move(task, 'running');
    ledger.refuse('tx/settle', new InsufficientFundsError('no'));
    await expect(settlement.settle(task, runOf())).rejects.toMatchObject({
      name: 'InsufficientFundsError',
      code: 'insufficient-funds',
    });
    expect(task.view.state).toBe('verified');
    expect(task.output).toBeUndefined();
    expect(completed).toEqual([]);
  });

  it('fails a task with its error’s code and refunds the escrow', async () => {
    const { ledger, book, clock, completed, settlement } = setup();
    const task = await pendingTask(alice, entry);
    book.move(task, 'assigned');
    book.move(task, 'running');
    clock.advance(40);
    await settlement.fail(task, new InferenceFailedError('boom'));
    expect(ledger.of('tx/refund')).toEqual([
      expect.objectContaining({ payload: { task: task.view.id, reason: 'failed' } }),
    ]);
    expect(task.view).toMatchObject({
      state: 'refunded',
      error: { code: 'inference-failed' },
      refundTx: ledger.of('tx/refund')[0]?.id,
      finishedAt: T0 + 40,
    });
    expect(completed).toHaveLength(1);
  });

  it('records an error without a code as internal, and stays failed when the refund is refused', async () => {
    const { ledger, book, completed, settlement } = setup();
    const task = await pendingTask(alice, entry);
    book.move(task, 'assigned');
    book.move(task, 'running');
    ledger.refuse('tx/refund', new InsufficientFundsError('no'));
    await settlement.fail(task, 'not an error');
    expect(task.view).toMatchObject({ state: 'failed', error: { code: 'internal' }, refundTx: undefined });
    expect(completed).toHaveLength(1);
  });

  it('refunds a cancelled task, and throws when the ledger refuses', async () => {
    const { ledger, book, settlement } = setup();
    const task = await pendingTask(alice, entry);
    book.move(task, 'cancelled');
    await settlement.refundCancelled(task);
    expect(ledger.of('tx/refund')[0]?.payload).toEqual({ task: task.view.id, reason: 'cancelled' });
    expect(task.view.state).toBe('refunded');

    const other = await pendingTask(alice, entry);
    book.move(other, 'cancelled');
    ledger.refuse('tx/refund', new InsufficientFundsError('no'));
    await expect(settlement.refundCancelled(other)).rejects.toMatchObject({ code: 'insufficient-funds' });
    expect(other.view.state).toBe('cancelled');
  });

  it('refunds only the open escrows of tasks it does not hold', async () => {
    const { ledger, book, settlement } = setup();
    const held = await pendingTask(alice, entry);
    book.add(held);
    const orphan = 'a'.repeat(64) as TaskId;
    const closed = 'b'.repeat(64) as TaskId;
    const escrow = { payer: alice.accountId, model: entry.id, amount: 30 } as const;
    ledger.escrows.set(held.view.id, { ...escrow, status: 'open' });
    ledger.escrows.set(orphan, { ...escrow, status: 'open' });
    ledger.escrows.set(closed, { ...escrow, status: 'settled' });
    await expect(settlement.refundOrphans()).resolves.toBe(1);
    expect(ledger.of('tx/refund').map((c) => c.payload)).toEqual([{ task: orphan, reason: 'expired' }]);
  });
});
