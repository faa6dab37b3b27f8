/**
 * The offline outbox's queue policy (the layer workbox-background-sync calls
 * its Queue): signed tasks wait here until the relay takes them, and are
 * delivered oldest first, exactly once, from whichever context gets there
 * first: the page (on start, `online`, becoming visible) or the service
 * worker (on Background Sync).
 *
 * Exactly once across contexts: delivery runs under the `acn-outbox` Web
 * Lock, so the page and the service worker never deliver at the same time,
 * and each entry is read afresh under the lock, so what one context
 * delivered the other sees as delivered. (Should a context die between the
 * relay's answer and marking the entry, the next run sends it again: the
 * relay answers a task it already has with that task, so nothing is paid twice.)
 *
 * Runs in the page and in the service worker: IndexedDB, Web Locks and
 * BroadcastChannel only, no DOM.
 */
import { sha256Hex } from '#core/encoding/bytes.ts';
import { decodeEnvelope, encodeEnvelope, openEnvelope, type Envelope } from '#core/envelope/envelope.ts';
import type { TaskId } from '#core/identity/ids.ts';
import { decodeTaskPayload } from '#core/messages/task.ts';
import type { AcnDb } from '../db.ts';
import { OutboxInputMismatchError } from './errors.ts';
import { notifyOutboxChange } from './outbox-changes.ts';
import {
  addOutboxEntry,
  allOutboxEntries,
  deleteOutboxEntry,
  outboxEntriesIn,
  updateOutboxEntry,
  type OutboxEntry,
} from './outbox-store.ts';

export { onOutboxChange, OUTBOX_CHANNEL_NAME, type OutboxChange } from './outbox-changes.ts';
export type { OutboxEntry, OutboxState } from './outbox-store.ts';

/** The Background Sync tag the service worker delivers the outbox on. */
export const OUTBOX_SYNC_TAG = 'acn-outbox';
/** The Web Lock held while delivering. */
export const OUTBOX_LOCK_NAME = 'acn-outbox';

/** A signed task to queue: its envelope (encoded or not) and its input bytes. */
export interface OutboxTask {
  readonly envelope: Uint8Array | Envelope;
  readonly input: Uint8Array;
}

export interface OutboxOptions {
  readonly signal?: AbortSignal;
}

export interface EnqueueOptions extends OutboxOptions {
  /** The clock that dates the entry (delivery goes oldest first). Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Queues a signed task and returns its entry. The envelope must be a task
 * and the input the bytes it was signed over; queuing a task already in the
 * outbox returns the existing entry unchanged.
 */
export async function enqueue(db: AcnDb, task: OutboxTask, options: EnqueueOptions = {}): Promise<OutboxEntry> {
  options.signal?.throwIfAborted();
  const bytes = task.envelope instanceof Uint8Array ? task.envelope : encodeEnvelope(task.envelope);
  const envelope = decodeEnvelope(bytes);
  if (!envelope.ok) throw envelope.error;
  const message = openEnvelope(envelope.value, 'task', decodeTaskPayload);
  if (!message.ok) throw message.error;
  const payload = message.value.payload;
  if (task.input.length !== payload.inputBytes || sha256Hex(task.input) !== payload.input) {
    throw new OutboxInputMismatchError('the input bytes are not the ones the task was signed with');
  }
  const { entry, added } = await addOutboxEntry(db, {
    taskId: message.value.id as TaskId,
    envelope: Uint8Array.from(bytes),
    input: Uint8Array.from(task.input),
    model: payload.model,
    maxPrice: payload.maxPrice,
    createdAt: (options.now ?? Date.now)(),
    state: 'queued',
    attempts: 0,
  });
  if (added) notifyOutboxChange({ taskId: entry.taskId, state: entry.state });
  return entry;
}

/** Every entry, oldest first. */
export function list(db: AcnDb, options: OutboxOptions = {}): Promise<OutboxEntry[]> {
  options.signal?.throwIfAborted();
  return allOutboxEntries(db);
}

/** Removes an entry (the user discards a failed task, or clears delivered ones). */
export async function remove(db: AcnDb, taskId: TaskId, options: OutboxOptions = {}): Promise<void> {
  options.signal?.throwIfAborted();
  await deleteOutboxEntry(db, taskId);
  notifyOutboxChange({ taskId, state: undefined });
}

/** Hands a signed task to the relay; resolves once the relay has accepted it. */
export type SubmitTask = (envelope: Uint8Array, input: Uint8Array, options: OutboxOptions) => Promise<unknown>;

export interface DeliverOptions extends OutboxOptions {
  /**
   * True for a failure worth trying again later (offline, relay unreachable
   * or restarting): the entry stays queued and delivery stops. Any other
   * failure marks the entry failed with the error's `code`.
   */
  readonly isRetryable: (error: unknown) => boolean;
  /** The clock that dates a delivery. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Delivers every queued entry, oldest first, and returns the ids of those
 * delivered by this call. Stops at the first retryable failure (the rest
 * would fail the same way). Aborting `signal` stops after the current entry
 * (which stays queued unless the relay already took it) and rejects with
 * the signal's reason.
 */
export async function deliverAll(db: AcnDb, submit: SubmitTask, options: DeliverOptions): Promise<TaskId[]> {
  options.signal?.throwIfAborted();
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  const run = () => deliverQueued(db, submit, options);
  if (!locks) return run(); // no Web Locks (Safari before 15.4): one context delivers at a time anyway
  return locks.request(OUTBOX_LOCK_NAME, options.signal ? { signal: options.signal } : {}, run);
}

async function deliverQueued(db: AcnDb, submit: SubmitTask, options: DeliverOptions): Promise<TaskId[]> {
  const delivered: TaskId[] = [];
  for (;;) {
    options.signal?.throwIfAborted();
    // Read afresh each time: entries may have been added or removed meanwhile.
    const next = (await outboxEntriesIn(db, 'queued'))[0];
    if (!next) return delivered;
    try {
      await submit(next.envelope, next.input, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const retry = options.isRetryable(error);
      await record(db, next.taskId, (entry) => ({
        ...entry,
        state: retry ? 'queued' : 'failed',
        attempts: entry.attempts + 1,
        lastError: codeOf(error),
        lastErrorMessage: error instanceof Error ? error.message : String(error),
      }));
      if (retry) return delivered;
      continue;
    }
    await record(db, next.taskId, (entry) => {
      const done: Mutable<OutboxEntry> = { ...entry, state: 'delivered', attempts: entry.attempts + 1 };
      done.deliveredAt = (options.now ?? Date.now)();
      delete done.lastError; // delivered after all: an earlier failure no longer applies
      delete done.lastErrorMessage;
      return done;
    });
    delivered.push(next.taskId);
  }
}

async function record(db: AcnDb, taskId: TaskId, change: (entry: OutboxEntry) => OutboxEntry): Promise<void> {
  const updated = await updateOutboxEntry(db, taskId, change);
  if (updated) notifyOutboxChange({ taskId, state: updated.state });
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * Asks the browser to wake the service worker (tag {@link OUTBOX_SYNC_TAG})
 * once the device is online, where Background Sync exists (Chromium).
 * Returns whether it did; elsewhere the page delivers on start, `online`
 * and becoming visible (see web/outbox/outbox-triggers.ts).
 */
export async function requestBackgroundSync(registration: ServiceWorkerRegistration): Promise<boolean> {
  const sync = (registration as { sync?: { register(tag: string): Promise<void> } }).sync;
  if (!('SyncManager' in globalThis) || sync === undefined) return false;
  try {
    await sync.register(OUTBOX_SYNC_TAG);
    return true;
  } catch {
    return false; // the user or the browser refused background sync for this site
  }
}
