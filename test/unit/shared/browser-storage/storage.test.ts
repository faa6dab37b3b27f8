/**
 * The light client's IndexedDB database in real Chromium: the schema the
 * migrations build, a connection that steps aside for a newer version of
 * the app, and the SDK's header store over the `headers` store.
 */
import { deleteDB, openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { ACN_DB_VERSION, openAcnDb, type AcnDb } from '#browser-storage/db.ts';
import { createIdbHeaderStore } from '#browser-storage/idb-header-store.ts';
import { runHeaderStoreContract } from '#test/header-store-contract.ts';

const names = new Set<string>();
const opened: AcnDb[] = [];
async function freshDb(name = `storage-test-${crypto.randomUUID()}`): Promise<AcnDb> {
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

describe('acn database', () => {
  it('creates every store with its key path and index', async () => {
    const db = await freshDb();
    expect(db.version).toBe(ACN_DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual([
      'conversations',
      'headers',
      'keys',
      'outbox',
      'relay',
      'settings',
    ]);
    const tx = db.transaction(['keys', 'relay', 'outbox', 'headers', 'settings', 'conversations']);
    expect(tx.objectStore('keys').keyPath).toBeNull();
    expect(tx.objectStore('relay').keyPath).toBe('origin');
    expect(tx.objectStore('outbox').keyPath).toBe('taskId');
    expect([...tx.objectStore('outbox').indexNames]).toEqual(['state']);
    expect(tx.objectStore('outbox').index('state').keyPath).toBe('state');
    expect(tx.objectStore('headers').keyPath).toBe('height');
    expect(tx.objectStore('settings').keyPath).toBeNull();
    expect(tx.objectStore('conversations').keyPath).toBe('id');
    expect([...tx.objectStore('conversations').indexNames]).toEqual(['updatedAt']);
    await tx.done;
  });

  it('keeps data across a reopen', async () => {
    const name = `storage-test-${crypto.randomUUID()}`;
    const db = await freshDb(name);
    await db.put('settings', { preset: 'balanced' }, 'contribute');
    db.close();
    const again = await freshDb(name);
    expect(await again.get('settings', 'contribute')).toEqual({ preset: 'balanced' });
  });

  it('closes its connection when a newer version of the app upgrades the schema', async () => {
    const name = `storage-test-${crypto.randomUUID()}`;
    names.add(name);
    let told = 0;
    const db = await openAcnDb({ name, onVersionChange: () => told++ });
    // Without stepping aside, this open would be blocked until the page closed.
    const newer = await openDB(name, ACN_DB_VERSION + 1, {
      blocked: () => {
        throw new Error('blocked');
      },
    });
    expect(told).toBe(1);
    expect(newer.version).toBe(ACN_DB_VERSION + 1);
    newer.close();
    expect(() => db.transaction('settings')).toThrow();
  });

  it('refuses to open when already aborted', async () => {
    await expect(openAcnDb({ name: 'never-created', signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

// Empty heights, exact bytes, the head, copies of views: the same contract as the memory store.
runHeaderStoreContract('IndexedDB', () => ({ open: async () => createIdbHeaderStore(await freshDb()) }));

describe('IndexedDB header store', () => {
  it('keeps its headers and head across a reopen', async () => {
    const name = `storage-test-${crypto.randomUUID()}`;
    const store = createIdbHeaderStore(await freshDb(name));
    await store.put(10, new Uint8Array([10]));
    await store.put(1, new Uint8Array([1]));
    const reopened = createIdbHeaderStore(await freshDb(name));
    expect(await reopened.head()).toBe(10);
    expect(await reopened.get(1)).toEqual(new Uint8Array([1]));
  });
});
