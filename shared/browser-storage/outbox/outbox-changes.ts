/**
 * Outbox change notifications across contexts: whoever changes an entry (the
 * page, or the service worker delivering on Background Sync) says so on the
 * `acn-outbox` BroadcastChannel, and every page listening refreshes its list.
 */
import type { TaskId } from '#core/identity/ids.ts';
import type { OutboxState } from './outbox-store.ts';

export const OUTBOX_CHANNEL_NAME = 'acn-outbox';

export interface OutboxChange {
  readonly taskId: TaskId;
  /** The entry's new state; undefined when it was removed. */
  readonly state: OutboxState | undefined;
}

let channel: BroadcastChannel | undefined;

/** Tells every other listener, in this context and others, that an entry changed. */
export function notifyOutboxChange(change: OutboxChange): void {
  if (typeof BroadcastChannel === 'undefined') return;
  channel ??= new BroadcastChannel(OUTBOX_CHANNEL_NAME);
  channel.postMessage(change);
}

/**
 * Calls `listener` on every outbox change made in any context of this origin
 * (this one included). Returns a function that stops listening.
 */
export function onOutboxChange(listener: (change: OutboxChange) => void): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => undefined;
  // Its own channel object: a BroadcastChannel never hears its own messages.
  const listening = new BroadcastChannel(OUTBOX_CHANNEL_NAME);
  listening.onmessage = (event: MessageEvent<OutboxChange>) => {
    listener(event.data);
  };
  return () => {
    listening.close();
  };
}
