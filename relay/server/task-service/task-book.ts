/**
 * The relay's tasks in memory: each task's record (its signed message, its
 * input and model, the view the API shows), its moves along the task state
 * graph, and the results kept for `result()`. Every part of the task service
 * reads and moves tasks through it, so a move the state graph forbids fails
 * in one place.
 *
 * It also keeps what a text generation streamed: each piece's text in order
 * (bounded: at most {@link TEXT_MAX_PIECES} pieces and their text), handed to
 * the task's watchers as it arrives (the `/api/tasks/:id/stream` endpoint),
 * replayed from the first piece to a watcher that comes late, and ended with
 * the task's final view once it is settled or refunded.
 */
import type { SignedMessage } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId, TxId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { TaskPayload } from '#core/messages/task.ts';
import { TEXT_MAX_PIECES } from '#core/pipelines/text-generation/prompt.ts';
import { canTransition, type TaskState } from '#core/task-state/task-state.ts';
import type { AuditJob } from '../trust/audit-tasks.ts';
import type { DirectJob } from './direct-path.ts';
import { TooManyStreamsError, UnknownTaskError } from './errors.ts';

/** What the API shows of a task. */
export interface TaskView {
  readonly id: TaskId;
  readonly requester: AccountId;
  readonly model: ModelId;
  readonly state: TaskState;
  /** What it costs (escrowed: `maxPrice`; charged on settlement: `price`). */
  readonly price: number;
  readonly maxPrice: number;
  readonly units: number;
  readonly submittedAt: number;
  readonly finishedAt: number | undefined;
  /** Ledger transactions: escrow, then settle or refund. */
  readonly escrowTx: TxId | undefined;
  readonly settleTx: TxId | undefined;
  readonly refundTx: TxId | undefined;
  /** Slashes of workers whose answer to this task was proven wrong. */
  readonly slashTxs: readonly TxId[];
  readonly worker: AccountId | undefined;
  readonly outputHash: Hash | undefined;
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

export interface TaskResult {
  readonly task: TaskView;
  readonly output: Uint8Array;
  /** The worker's encoded, signed receipt envelope. */
  readonly receipt: Uint8Array;
}

export interface TaskEvents {
  readonly submitted: (task: TaskView) => void;
  readonly completed: (task: TaskView) => void;
}

/** One task the relay holds. */
export interface TaskRecord {
  view: TaskView;
  readonly message: SignedMessage<'task', TaskPayload>;
  /** The encoded signed task, as the requester sent it. */
  readonly bytes: Uint8Array;
  readonly input: Uint8Array;
  readonly entry: ModelEntry;
  /** Set once settled: only a checked result is ever handed out. */
  output?: Uint8Array;
  receipt?: Uint8Array;
  /** Set on the relay's own audit tasks (canaries and re-checks). */
  readonly audit?: AuditJob;
  /** Set on a task assigned for the direct path. */
  direct?: DirectJob;
  /**
   * Set while a text generation of this task runs on the brokered path (on a
   * worker or the pool): aborting it with a `StopRequest` stops the run.
   */
  stopper?: AbortController;
  /** The requester's signed stop, once accepted: the run that comes after it (if any) starts stopped. */
  stopped?: Uint8Array;
}

/** Someone following a task's streamed text (see {@link TaskBook.watch}). */
export interface TextWatcher {
  /** One piece's text, in order from index 0. */
  readonly text: (index: number, text: string) => void;
  /** The task ended (settled or refunded, or failed for good): nothing follows. */
  readonly end: (task: TaskView) => void;
}

export interface TaskBookInit {
  /** Results kept in memory for `result()`. Default 1000 (oldest dropped by {@link TaskBook.forget}). */
  readonly maxResults?: number | undefined;
  /** Watchers at once, over all tasks. Default 1000. */
  readonly maxWatchers?: number | undefined;
}

/** The most text a task keeps: what its result's text may hold (4 characters a piece), and a little. */
const MAX_TEXT_CHARS = 4 * TEXT_MAX_PIECES + 1024;

export interface TaskBook {
  /** The task `id`. Throws {@link UnknownTaskError}. */
  get(id: TaskId): TaskRecord;
  find(id: TaskId): TaskRecord | undefined;
  has(id: TaskId): boolean;
  add(task: TaskRecord): void;
  /** Moves `task` to `state`, with `changes` to its view; throws when the state graph forbids it (a bug). */
  move(task: TaskRecord, state: TaskState, changes?: Partial<TaskView>): void;
  /** Back to pending after a failed or rejected run, so it can run elsewhere (when the state graph allows). */
  requeue(task: TaskRecord): void;
  /** Notes a slash on the task whose answer it punished; nothing when the task is unknown. */
  recordSlash(id: TaskId, tx: TxId): void;
  /** Newest first: all tasks, or `account`'s; at most `limit` (default 100, at most 1000). */
  list(filter?: { readonly account?: AccountId; readonly limit?: number }): TaskView[];
  /** The output and receipt once settled; undefined before, or after the result was dropped. Throws {@link UnknownTaskError}. */
  result(id: TaskId): TaskResult | undefined;
  /** Drops the outputs (and streamed text) of the oldest settled tasks beyond `maxResults`. */
  forget(): void;
  /**
   * Keeps piece `index`'s text of task `id` and hands it to its watchers.
   * Pieces come in order: one the task has already is ignored (a second run
   * after a failed one makes the same pieces again), a gap is filled with ''.
   * Past the bound, or after the task ended, or for an unknown task, nothing happens.
   */
  appendText(id: TaskId, index: number, text: string): void;
  /** The text streamed so far, one string per piece. Throws {@link UnknownTaskError}. */
  text(id: TaskId): readonly string[];
  /**
   * Follows task `id`'s text: `watcher` gets every piece so far at once, then
   * each new one, then the end (at once when the task has ended already).
   * Returns what stops watching. Throws {@link UnknownTaskError}, and
   * {@link TooManyStreamsError} when `maxWatchers` are watching already.
   */
  watch(id: TaskId, watcher: TextWatcher): () => void;
  /** Task `id` ended: its watchers get its final view and are let go. Only the first call counts. */
  endText(id: TaskId): void;
}

/** A task's streamed text and who follows it. */
interface TaskText {
  readonly pieces: string[];
  chars: number;
  ended: boolean;
  readonly watchers: Set<TextWatcher>;
}

export function createTaskBook(init: TaskBookInit = {}): TaskBook {
  const maxResults = init.maxResults ?? 1000;
  const maxWatchers = init.maxWatchers ?? 1000;
  const tasks = new Map<TaskId, TaskRecord>();
  const texts = new Map<TaskId, TaskText>();
  let watching = 0;

  /** The text of a task the book holds, made on first use. */
  function textOf(id: TaskId): TaskText {
    get(id);
    let text = texts.get(id);
    if (text === undefined) {
      text = { pieces: [], chars: 0, ended: false, watchers: new Set() };
      texts.set(id, text);
    }
    return text;
  }

  /** Whether the task's story is over: no more text, no more moves. */
  function isOver(task: TaskRecord): boolean {
    return task.view.state === 'settled' || task.view.state === 'refunded';
  }

  function get(id: TaskId): TaskRecord {
    const task = tasks.get(id);
    if (!task) throw new UnknownTaskError(`no task ${id} on this relay`);
    return task;
  }

  function move(task: TaskRecord, state: TaskState, changes: Partial<TaskView> = {}): void {
    if (!canTransition(task.view.state, state)) {
      throw new Error(`internal: task ${task.view.id} cannot go from ${task.view.state} to ${state}`);
    }
    task.view = { ...task.view, ...changes, state };
  }

  return {
    get,
    find: (id) => tasks.get(id),
    has: (id) => tasks.has(id),
    add(task) {
      tasks.set(task.view.id, task);
    },
    move,
    requeue(task) {
      if (canTransition(task.view.state, 'pending')) move(task, 'pending');
    },
    recordSlash(id, tx) {
      const target = tasks.get(id);
      if (target !== undefined) target.view = { ...target.view, slashTxs: [...target.view.slashTxs, tx] };
    },
    list(filter = {}) {
      const all = [...tasks.values()].map((t) => t.view).reverse();
      const mine = filter.account === undefined ? all : all.filter((t) => t.requester === filter.account);
      return mine.slice(0, Math.min(filter.limit ?? 100, 1000));
    },
    result(id) {
      const task = get(id);
      return task.output && task.receipt ? { task: task.view, output: task.output, receipt: task.receipt } : undefined;
    },
    forget() {
      const done = [...tasks.values()].filter((t) => t.output !== undefined);
      for (const task of done.slice(0, Math.max(0, done.length - maxResults))) {
        delete task.output;
        delete task.receipt;
        // Only an ended text with no watchers left goes; a late watcher then gets the end alone.
        const text = texts.get(task.view.id);
        if (text?.ended === true && text.watchers.size === 0) texts.delete(task.view.id);
      }
    },
    appendText(id, index, piece) {
      if (!tasks.has(id)) return;
      const text = textOf(id);
      if (text.ended || index < text.pieces.length || index >= TEXT_MAX_PIECES) return;
      const gap = index - text.pieces.length;
      if (text.chars + piece.length > MAX_TEXT_CHARS) return;
      for (let i = 0; i < gap; i++) text.pieces.push('');
      text.pieces.push(piece);
      text.chars += piece.length;
      for (let i = index - gap; i <= index; i++) {
        const value = text.pieces[i] ?? '';
        for (const watcher of text.watchers) watcher.text(i, value);
      }
    },
    text(id) {
      get(id);
      return [...(texts.get(id)?.pieces ?? [])];
    },
    watch(id, watcher) {
      const task = get(id);
      const text = textOf(id);
      const over = text.ended || isOver(task);
      if (!over && watching >= maxWatchers) {
        throw new TooManyStreamsError(`${maxWatchers} streams are open on this relay; try again later`);
      }
      text.pieces.forEach((piece, index) => {
        watcher.text(index, piece);
      });
      if (over) {
        watcher.end(task.view);
        return () => undefined;
      }
      text.watchers.add(watcher);
      watching++;
      return () => {
        if (text.watchers.delete(watcher)) watching--;
      };
    },
    endText(id) {
      const task = tasks.get(id);
      if (task === undefined) return;
      const text = textOf(id);
      if (text.ended) return;
      text.ended = true;
      const watchers = [...text.watchers];
      watching -= text.watchers.size;
      text.watchers.clear();
      for (const watcher of watchers) watcher.end(task.view);
    },
  };
}
