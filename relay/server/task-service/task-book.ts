/**
 * The relay's tasks in memory: each task's record (its signed message, its
 * input and model, the view the API shows), its moves along the task state
 * graph, and the results kept for `result()`. Every part of the task service
 * reads and moves tasks through it, so a move the state graph forbids fails
 * in one place.
 */
import type { SignedMessage } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId, TxId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { TaskPayload } from '#core/messages/task.ts';
import { canTransition, type TaskState } from '#core/task-state/task-state.ts';
import type { AuditJob } from '../trust/audit-tasks.ts';
import type { DirectJob } from './direct-path.ts';
import { UnknownTaskError } from './errors.ts';

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
}

export interface TaskBookInit {
  /** Results kept in memory for `result()`. Default 1000 (oldest dropped by {@link TaskBook.forget}). */
  readonly maxResults?: number | undefined;
}

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
  /** Drops the outputs of the oldest settled tasks beyond `maxResults`. */
  forget(): void;
}

export function createTaskBook(init: TaskBookInit = {}): TaskBook {
  const maxResults = init.maxResults ?? 1000;
  const tasks = new Map<TaskId, TaskRecord>();

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
      }
    },
  };
}
