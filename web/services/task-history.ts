/**
 * The task history as the Tasks and Home screens list it: the relay's tasks
 * for this account merged with the outbox's entries, each with a state in
 * words and, once checked, its verification outcome.
 */
import type { Catalogue } from '#core/models/catalogue.ts';
import type { TaskState } from '#core/task-state/task-state.ts';
import type { TaskView } from '#core/api/responses.ts';
import type { OutboxEntry, OutboxState } from '#browser-storage/outbox/outbox-store.ts';

export interface HistoryRow {
  readonly id: string;
  /** Where the row comes from: the relay's list, or the outbox (not on the relay yet, or refused). */
  readonly source: 'relay' | 'outbox';
  /** A relay task state, or an outbox state. */
  readonly state: TaskState | OutboxState;
  readonly stateText: string;
  readonly model: string;
  readonly modelName: string;
  readonly submittedAt: number;
  readonly maxPrice: number;
  /** Whether the result passed verification; undefined until checked. */
  readonly verified: 'verified' | 'failed' | undefined;
}

export interface TaskHistory {
  readonly rows: readonly HistoryRow[];
  /** Why the relay's tasks are missing (unreachable), when they are. */
  readonly relayError: string | undefined;
}

export const STATE_TEXT: Readonly<Record<TaskState | OutboxState, string>> = {
  pending: 'Waiting',
  assigned: 'Assigned',
  running: 'Running',
  completed: 'Result ready',
  verified: 'Result checked',
  settled: 'Done',
  failed: 'Failed',
  refunded: 'Refunded',
  cancelled: 'Cancelled',
  queued: 'Queued',
  delivered: 'Sent',
};

export interface HistoryOptions {
  readonly catalogue: Catalogue | undefined;
  readonly verifications: ReadonlyMap<string, 'verified' | 'failed'>;
  readonly limit?: number | undefined;
}

/** Relay tasks and outbox entries as rows, newest first; an outbox entry the relay lists shows as the relay's task. */
export function historyRows(
  tasks: readonly TaskView[],
  outbox: readonly OutboxEntry[],
  options: HistoryOptions,
): HistoryRow[] {
  const nameOf = (model: string): string =>
    options.catalogue?.models.find((m) => m.id === model)?.name ?? `Model ${model.slice(0, 8)}…`;
  const onRelay = new Set(tasks.map((t) => t.id as string));
  const rows: HistoryRow[] = tasks.map((t) => ({
    id: t.id,
    source: 'relay',
    state: t.state,
    stateText: STATE_TEXT[t.state],
    model: t.model,
    modelName: nameOf(t.model),
    submittedAt: t.submittedAt,
    maxPrice: t.maxPrice,
    verified: options.verifications.get(t.id),
  }));
  for (const entry of outbox) {
    if (onRelay.has(entry.taskId)) continue;
    rows.push({
      id: entry.taskId,
      source: 'outbox',
      state: entry.state,
      stateText: STATE_TEXT[entry.state],
      model: entry.model,
      modelName: nameOf(entry.model),
      submittedAt: entry.createdAt,
      maxPrice: entry.maxPrice,
      verified: undefined,
    });
  }
  rows.sort((a, b) => b.submittedAt - a.submittedAt);
  return options.limit === undefined ? rows : rows.slice(0, options.limit);
}
