/**
 * The Chat screen's conversations in real IndexedDB (Chromium): listed most
 * recent first, kept across a reopen, bounded (the least recently changed
 * conversation goes when one more is saved beyond the limit, the oldest
 * messages beyond the message limit), deleted; and a database made by the
 * previous version of the app (schema version 1) upgrades to the
 * conversations store with its data intact.
 */
import { deleteDB, openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { ACN_DB_VERSION, openAcnDb, type AcnDb } from '#browser-storage/db.ts';
import {
  CONVERSATION_LIMIT,
  MESSAGE_LIMIT,
  deleteConversation,
  getConversation,
  listConversations,
  saveConversation,
  type StoredChatMessage,
  type StoredConversation,
} from '#browser-storage/conversations.ts';
import type { ModelId } from '#core/identity/ids.ts';

const MODEL = 'a'.repeat(64) as ModelId;
const names = new Set<string>();
const opened: AcnDb[] = [];

async function freshDb(name = `conversations-test-${crypto.randomUUID()}`): Promise<AcnDb> {
  names.add(name);
  const db = await openAcnDb({ name });
  opened.push(db);
  return db;
}

afterEach(async () => {
  for (const db of opened.splice(0)) db.close();
  for (const name of names) await deleteDB(name);
  names.clear();
});

function message(i: number, role: 'user' | 'assistant' = i % 2 === 0 ? 'user' : 'assistant'): StoredChatMessage {
  return role === 'user'
    ? { id: `m${i}`, role, text: `question ${i}`, at: i }
    : { id: `m${i}`, role, text: `answer ${i}`, at: i, state: 'done', where: 'phone', finish: 'stop', pieces: 8 };
}

function conversation(id: string, updatedAt: number, messages = [message(0), message(1)]): StoredConversation {
  return { id, title: `chat ${id}`, model: MODEL, createdAt: updatedAt, updatedAt, messages };
}

describe('conversation store', () => {
  it('lists the most recently changed first, and keeps them across a reopen', async () => {
    const name = `conversations-test-${crypto.randomUUID()}`;
    const db = await freshDb(name);
    await saveConversation(db, conversation('old', 100));
    await saveConversation(db, conversation('new', 300));
    await saveConversation(db, conversation('mid', 200));
    expect((await listConversations(db)).map((c) => c.id)).toEqual(['new', 'mid', 'old']);
    // Changing one moves it to the top.
    await saveConversation(db, { ...conversation('old', 400), messages: [message(0), message(1), message(2)] });
    db.close();
    const again = await freshDb(name);
    expect((await listConversations(again)).map((c) => c.id)).toEqual(['old', 'new', 'mid']);
    expect((await getConversation(again, 'old'))?.messages.map((m) => m.id)).toEqual(['m0', 'm1', 'm2']);
  });

  it('drops the least recently changed conversations beyond the limit, in the same save', async () => {
    const db = await freshDb();
    const dropped: string[][] = [];
    for (let i = 0; i < 5; i++) dropped.push(await saveConversation(db, conversation(`c${i}`, 1000 + i), { limit: 3 }));
    expect(dropped).toEqual([[], [], [], ['c0'], ['c1']]);
    expect((await listConversations(db)).map((c) => c.id)).toEqual(['c4', 'c3', 'c2']);
    // Saving one that is kept again changes nothing else.
    expect(await saveConversation(db, conversation('c2', 2000), { limit: 3 })).toEqual([]);
    expect((await listConversations(db)).map((c) => c.id)).toEqual(['c2', 'c4', 'c3']);
    expect(CONVERSATION_LIMIT).toBeGreaterThanOrEqual(10);
  });

  it('keeps the latest messages of a long conversation', async () => {
    const db = await freshDb();
    const messages = Array.from({ length: MESSAGE_LIMIT + 7 }, (_, i) => message(i));
    await saveConversation(db, conversation('long', 1, messages));
    const kept = (await getConversation(db, 'long'))?.messages ?? [];
    expect(kept).toHaveLength(MESSAGE_LIMIT);
    expect(kept[0]?.id).toBe('m7');
    expect(kept.at(-1)?.id).toBe(`m${MESSAGE_LIMIT + 6}`);
  });

  it('deletes a conversation', async () => {
    const db = await freshDb();
    await saveConversation(db, conversation('a', 1));
    await saveConversation(db, conversation('b', 2));
    await deleteConversation(db, 'a');
    expect(await getConversation(db, 'a')).toBeUndefined();
    expect((await listConversations(db)).map((c) => c.id)).toEqual(['b']);
  });

  it('upgrades a database of the previous version, keeping what it held', async () => {
    const name = `conversations-test-${crypto.randomUUID()}`;
    names.add(name);
    // Version 1 as the previous app made it.
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('keys');
        db.createObjectStore('relay', { keyPath: 'origin' });
        db.createObjectStore('outbox', { keyPath: 'taskId' }).createIndex('state', 'state');
        db.createObjectStore('headers', { keyPath: 'height' });
        db.createObjectStore('settings');
      },
    });
    await v1.put('settings', { preset: 'balanced' }, 'contribute');
    v1.close();
    const db = await freshDb(name);
    expect(db.version).toBe(ACN_DB_VERSION);
    expect(ACN_DB_VERSION).toBeGreaterThan(1);
    expect(await db.get('settings', 'contribute')).toEqual({ preset: 'balanced' });
    expect(await listConversations(db)).toEqual([]);
    await saveConversation(db, conversation('first', 1));
    expect((await listConversations(db)).map((c) => c.id)).toEqual(['first']);
  });
});
