/**
 * The Chat screen's conversations, kept on the device in the `conversations`
 * object store: each with its messages (the user's and the model's), the
 * model it talks to, and for every answer where it ran, what it cost and
 * whether its receipt was verified.
 *
 * Bounded, so a phone's storage never fills up with old chats: at most
 * {@link CONVERSATION_LIMIT} conversations are kept (saving one more drops
 * the oldest, by the time of their last change) and at most
 * {@link MESSAGE_LIMIT} messages per conversation (the oldest go first).
 *
 * IndexedDB only (no DOM), like the rest of this folder.
 */
import type { ModelId, TaskId } from '#core/identity/ids.ts';
import type { AcnDb } from './db.ts';

/** Conversations kept; saving one more drops the least recently changed. */
export const CONVERSATION_LIMIT = 50;
/** Messages kept per conversation; the oldest are dropped beyond it. */
export const MESSAGE_LIMIT = 200;

/**
 * Where an answer is:
 * - `pending`: being made (on the phone, or sent to the network and awaited);
 * - `queued`: signed and waiting in the outbox for the device to be online;
 * - `done`: finished (`finish` says how);
 * - `failed`: no answer (`error` says why).
 */
export type AnswerState = 'pending' | 'queued' | 'done' | 'failed';

export interface StoredChatMessage {
  /** Random, unique within the conversation. */
  readonly id: string;
  readonly role: 'user' | 'assistant';
  readonly text: string;
  /** When it was written (ms since the epoch). */
  readonly at: number;
  // The rest is for the model's answers only.
  readonly state?: AnswerState;
  readonly where?: 'phone' | 'network';
  /** The network task that made it. */
  readonly taskId?: TaskId;
  /** The most it could cost (escrowed when sent to the network). */
  readonly maxPrice?: number;
  /** What it did cost (settled on the network). */
  readonly price?: number;
  /** Pieces generated, and how fast. */
  readonly pieces?: number;
  readonly piecesPerSecond?: number;
  /** `stop`: the model ended it; `length`: it reached its length limit; `stopped`: the user stopped it. */
  readonly finish?: 'stop' | 'length' | 'stopped';
  /** On the phone: WASM or WebGPU. */
  readonly backend?: string;
  /** On the network: straight to a desktop worker over WebRTC, or through the relay. */
  readonly via?: 'webrtc' | 'relay';
  /** The receipt's verification on this phone: true verified, false failed; absent: not (yet) verified. */
  readonly verified?: boolean;
  /** Why it failed, in words, and the failure's stable code. */
  readonly error?: string;
  readonly errorCode?: string;
}

export interface StoredConversation {
  readonly id: string;
  /** From the first message. */
  readonly title: string;
  /** The model last used in it. */
  readonly model: ModelId;
  readonly createdAt: number;
  /** The last change: conversations are listed, and dropped, by it. */
  readonly updatedAt: number;
  readonly messages: readonly StoredChatMessage[];
}

/** Every conversation, the most recently changed first. */
export async function listConversations(db: AcnDb): Promise<StoredConversation[]> {
  return (await db.getAllFromIndex('conversations', 'updatedAt')).reverse();
}

export function getConversation(db: AcnDb, id: string): Promise<StoredConversation | undefined> {
  return db.get('conversations', id);
}

/**
 * Stores `conversation` (its oldest messages beyond {@link MESSAGE_LIMIT}
 * left out) and, in the same transaction, drops the least recently changed
 * conversations beyond `limit`. Returns the ids dropped.
 */
export async function saveConversation(
  db: AcnDb,
  conversation: StoredConversation,
  options: { readonly limit?: number } = {},
): Promise<string[]> {
  const limit = Math.max(1, options.limit ?? CONVERSATION_LIMIT);
  const messages = conversation.messages;
  const kept =
    messages.length > MESSAGE_LIMIT ? { ...conversation, messages: messages.slice(-MESSAGE_LIMIT) } : conversation;
  const tx = db.transaction('conversations', 'readwrite');
  await tx.store.put(kept);
  let extra = (await tx.store.count()) - limit;
  const dropped: string[] = [];
  // The index runs oldest first; the one just saved is never the oldest unless its clock went back.
  let cursor = extra > 0 ? await tx.store.index('updatedAt').openCursor() : null;
  while (cursor && extra > 0) {
    if (cursor.value.id !== kept.id) {
      dropped.push(cursor.value.id);
      await cursor.delete();
      extra--;
    }
    cursor = await cursor.continue();
  }
  await tx.done;
  return dropped;
}

export async function deleteConversation(db: AcnDb, id: string): Promise<void> {
  await db.delete('conversations', id);
}
