/** The task book: lookups, moves along the state graph, listing, slashes noted, results dropped past the cap. */
import { describe, expect, it } from 'vitest';
import type { TaskId, TxId } from '#core/identity/ids.ts';
import { createTaskBook } from '#server/task-service/task-book.ts';
import { languageEntry, pendingTask } from '#test/task-service-fakes.ts';
import { signerFor } from '#test/network.ts';

const entry = languageEntry();
const alice = signerFor('alice');
const bob = signerFor('bob');

describe('task book', () => {
  it('finds a task it holds and refuses an unknown id with UnknownTaskError', async () => {
    const book = createTaskBook();
    const task = await pendingTask(alice, entry);
    book.add(task);
    expect(book.get(task.view.id)).toBe(task);
    expect(book.has(task.view.id)).toBe(true);
    const unknown = 'f'.repeat(64) as TaskId;
    expect(book.find(unknown)).toBeUndefined();
    expect(() => book.get(unknown)).toThrow(
      expect.objectContaining({ name: 'UnknownTaskError', code: 'unknown-task' }),
    );
    expect(() => book.result(unknown)).toThrow(expect.objectContaining({ code: 'unknown-task' }));
  });

  it('moves a task along the state graph with its changes, and refuses a move the graph forbids', async () => {
    const book = createTaskBook();
    const task = await pendingTask(alice, entry);
    book.move(task, 'assigned', { worker: bob.accountId });
    expect(task.view).toMatchObject({ state: 'assigned', worker: bob.accountId });
    expect(() => {
      book.move(task, 'settled');
    }).toThrow(Error);
    expect(task.view.state).toBe('assigned');
  });

  it('requeues a task back to pending only where the graph allows it', async () => {
    const book = createTaskBook();
    const task = await pendingTask(alice, entry);
    book.move(task, 'assigned');
    book.move(task, 'running');
    book.requeue(task);
    expect(task.view.state).toBe('pending');
    book.move(task, 'cancelled');
    book.requeue(task);
    expect(task.view.state).toBe('cancelled');
  });

  it('lists newest first, by requester, at most the limit (capped at 1000)', async () => {
    const book = createTaskBook();
    const first = await pendingTask(alice, entry);
    const second = await pendingTask(bob, entry);
    const third = await pendingTask(alice, entry);
    for (const task of [first, second, third]) book.add(task);
    expect(book.list().map((t) => t.id)).toEqual([third.view.id, second.view.id, first.view.id]);
    expect(book.list({ account: alice.accountId }).map((t) => t.id)).toEqual([third.view.id, first.view.id]);
    expect(book.list({ limit: 1 }).map((t) => t.id)).toEqual([third.view.id]);
    expect(book.list({ limit: 5000 })).toHaveLength(3);
  });

  it('notes slashes on the task they punished and ignores unknown tasks', async () => {
    const book = createTaskBook();
    const task = await pendingTask(alice, entry);
    book.add(task);
    const tx = 'a'.repeat(64) as TxId;
    book.recordSlash(task.view.id, tx);
    book.recordSlash('e'.repeat(64) as TaskId, tx);
    expect(task.view.slashTxs).toEqual([tx]);
  });

  it('hands out a result only once it is kept, and drops the oldest beyond maxResults', async () => {
    const book = createTaskBook({ maxResults: 1 });
    const older = await pendingTask(alice, entry);
    const newer = await pendingTask(alice, entry);
    for (const task of [older, newer]) book.add(task);
    expect(book.result(older.view.id)).toBeUndefined();
    for (const task of [older, newer]) {
      task.output = new Uint8Array([1]);
      task.receipt = new Uint8Array([2]);
    }
    book.forget();
    expect(book.result(older.view.id)).toBeUndefined();
    expect(book.result(newer.view.id)).toEqual({
      task: newer.view,
      output: new Uint8Array([1]),
      receipt: new Uint8Array([2]),
    });
  });
});
