/**
 * The outbox's storage layer: entries in the `outbox` object store and the
 * few reads and atomic updates the queue policy (outbox.ts) needs. Runs in
 * the page and in the service worker: IndexedDB only.
 */
import type { ModelId, TaskId } from '#core/identity/ids.ts';
import type { AcnDb } from '../db.ts';

export type OutboxState = 'queued' | 'delivered' | 'failed';

/** A signed task waiting for (or done with) delivery to the relay. */
export interface OutboxEntry {
  readonly taskId: TaskId;
  /** The encoded signed task envelope, as signed. */
  readonly envelope: Uint8Array;
  /** The task's input bytes (the envelope holds their hash). */
  readonly input: Uint8Array;
  readonly model: ModelId;
  readonly maxPrice: number;
  /** When it was queued (ms since the epoch); entries are delivered oldest first. */
  readonly createdAt: number;
  readonly state: OutboxState;
  /** Delivery attempts so far. */
  readonly attempts: number;
  /** The stable code of the last failure (for example `relay-unreachable`, `insufficient-funds`). */
  readonly lastError?: string;
  /** That failure's message, for the curious; show the code's own text to users. */
  readonly lastErrorMessage?: string;
  readonly deliveredAt?: number;
}

/** Stores `entry` unless an entry with its task id exists; returns the stored one. */
export async function addOutboxEntry(db: AcnDb, entry: OutboxEntry): Promise<{ entry: OutboxEntry; added: boolean }> {
  const tx = db.transaction('outbox', 'readwrite');
  const existing = await tx.store.get(entry.taskId);
  if (!existing) await tx.store.add(entry);
  await tx.done;
  return existing ? { entry: existing, added: false } : { entry, added: true };
}

export function getOutboxEntry(db: AcnDb, taskId: TaskId): Promise<OutboxEntry | undefined> {
  return db.get('outbox', taskId);
}

/** Every entry, oldest first. */
export async function allOutboxEntries(db: AcnDb): Promise<OutboxEntry[]> {
  return byAge(await db.getAll('outbox'));
}

/** The entries in `state`, oldest first. */
export async function outboxEntriesIn(db: AcnDb, state: OutboxState): Promise<OutboxEntry[]> {
  return byAge(await db.getAllFromIndex('outbox', 'state', state));
}

/**
 * Replaces an entry with `change(entry)` in one transaction, so a read and
 * its write cannot interleave with another context's. Returns the new entry,
 * or undefined when there is none (it was removed meanwhile).
 */
export async function updateOutboxEntry(
  db: AcnDb,
  taskId: TaskId,
  change: (entry: OutboxEntry) => OutboxEntry,
): Promise<OutboxEntry | undefined> {
  const tx = db.transaction('outbox', 'readwrite');
  const existing = await tx.store.get(taskId);
  const updated = existing ? change(existing) : undefined;
  if (updated) await tx.store.put(updated);
  await tx.done;
  return updated;
}

export async function deleteOutboxEntry(db: AcnDb, taskId: TaskId): Promise<void> {
  await db.delete('outbox', taskId);
}

function byAge(entries: OutboxEntry[]): OutboxEntry[] {
  return entries.sort((a, b) => a.createdAt - b.createdAt || (a.taskId < b.taskId ? -1 : 1));
}
