/**
 * The task book's streamed text: pieces kept in order (a repeat ignored, a
 * gap filled), bounded, replayed to a watcher that comes late and then sent
 * live, ended once with the task's view, dropped with the result, and a cap
 * on watchers at once.
 */
import { describe, expect, it } from 'vitest';
import type { TaskId } from '#core/identity/ids.ts';
import { TEXT_MAX_PIECES } from '#core/pipelines/text-generation/prompt.ts';
import { createTaskBook, type TaskView, type TextWatcher } from '#server/task-service/task-book.ts';
import { languageEntry, pendingTask } from '#test/task-service-fakes.ts';
import { signerFor } from '#test/network.ts';

const entry = languageEntry();
const alice = signerFor('alice');

/** A watcher that writes down what it gets. */
function recorder(): TextWatcher & { readonly seen: string[]; readonly ends: TaskView[] } {
  const seen: string[] = [];
  const ends: TaskView[] = [];
  return {
    seen,
    ends,
    text: (index, text) => seen.push(`${index}:${text}`),
    end: (task) => ends.push(task),
  };
}

describe('task book: streamed text', () => {
  it('keeps pieces in order, ignores one it has, fills a gap, and replays them to a late watcher', async () => {
    const book = createTaskBook();
    const task = await pendingTask(alice, entry);
    book.add(task);
    const id = task.view.id;
    book.appendText(id, 0, 'In ');
    book.appendText(id, 1, 'the ');
    book.appendText(id, 1, 'THE '); // a second run after a failed one: the piece is kept as first made
    book.appendText(id, 3, 'beginning'); // piece 2 made no text of its own
    expect(book.text(id)).toEqual(['In ', 'the ', '', 'beginning']);

    const late = recorder();
    const unwatch = book.watch(id, late);
    expect(late.seen).toEqual(['0:In ', '1:the ', '2:', '3:beginning']);
    book.appendText(id, 4, ' God');
    expect(late.seen.at(-1)).toBe('4: God');
    unwatch();
    book.appendText(id, 5, ' created');
    expect(late.seen).toHaveLength(5);
    expect(late.ends).toEqual([]);
  });

  it('ends every watcher once with the final view, and a watcher after the end gets the replay and the end', async () => {
    const book = createTaskBook();
    const task = await pendingTask(alice, entry);
    book.add(task);
    const id = task.view.id;
    const first = recorder();
    const second = recorder();
    book.watch(id, first);
    book.watch(id, second);
    book.appendText(id, 0, 'Amen');
    book.move(task, 'cancelled');
    book.move(task, 'refunded');
    book.endText(id);
    book.endText(id);
    for (const watcher of [first, second]) {
      expect(watcher.seen).toEqual(['0:Amen']);
      expect(watcher.ends.map((view) => view.state)).toEqual(['refunded']);
    }
    // Nothing is kept after the end.
    book.appendText(id, 1, '.');
    expect(book.text(id)).toEqual(['Amen']);
    const after = recorder();
    expect(book.watch(id, after)).toBeTypeOf('function');
    expect(after.seen).toEqual(['0:Amen']);
    expect(after.ends).toHaveLength(1);
  });

  it('keeps at most TEXT_MAX_PIECES pieces and ignores unknown tasks', async () => {
    const book = createTaskBook();
    const task = await pendingTask(alice, entry);
    book.add(task);
    const id = task.view.id;
    for (let index = 0; index <= TEXT_MAX_PIECES; index++) book.appendText(id, index, 'a');
    expect(book.text(id)).toHaveLength(TEXT_MAX_PIECES);
    // Past the bound even by index alone, nothing is filled in.
    book.appendText(id, TEXT_MAX_PIECES + 10, 'b');
    expect(book.text(id)).toHaveLength(TEXT_MAX_PIECES);

    const unknown = 'f'.repeat(64) as TaskId;
    book.appendText(unknown, 0, 'x');
    expect(() => book.text(unknown)).toThrow(expect.objectContaining({ code: 'unknown-task' }));
    expect(() => book.watch(unknown, recorder())).toThrow(expect.objectContaining({ code: 'unknown-task' }));
  });

  it('refuses a watcher beyond maxWatchers with too-many-streams, before replaying anything to it', async () => {
    const book = createTaskBook({ maxWatchers: 2 });
    const task = await pendingTask(alice, entry);
    book.add(task);
    const id = task.view.id;
    book.appendText(id, 0, 'a');
    const unwatch = book.watch(id, recorder());
    book.watch(id, recorder());
    const third = recorder();
    expect(() => book.watch(id, third)).toThrow(
      expect.objectContaining({ name: 'TooManyStreamsError', code: 'too-many-streams' }),
    );
    expect(third.seen).toEqual([]);
    unwatch();
    expect(book.watch(id, third)).toBeTypeOf('function');
    expect(third.seen).toEqual(['0:a']);
  });

  it('drops the text of an ended task with its result', async () => {
    const book = createTaskBook({ maxResults: 0 });
    const task = await pendingTask(alice, entry);
    book.add(task);
    const id = task.view.id;
    book.appendText(id, 0, 'a');
    task.output = new Uint8Array([1]);
    task.receipt = new Uint8Array([2]);
    book.endText(id);
    book.forget();
    expect(book.text(id)).toEqual([]);
  });
});
