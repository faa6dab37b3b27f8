/**
 * The offline outbox in real Chromium: real signed tasks queued in IndexedDB,
 * delivered oldest first and exactly once across connections and contexts
 * (a dedicated worker stands in for the service worker: same Web Locks, same
 * IndexedDB, no DOM), kept on a retryable failure, marked failed on a
 * permanent one, with change notifications on the BroadcastChannel; and the
 * page's delivery triggers.
 */
import { deleteDB } from 'idb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { Hash, TaskId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import {
  deliverAll,
  enqueue,
  list,
  onOutboxChange,
  OUTBOX_SYNC_TAG,
  remove,
  requestBackgroundSync,
  type OutboxChange,
} from '#browser-storage/outbox/outbox.ts';
import { watchOutbox } from '#web/outbox/outbox-triggers.ts';
import { openAcnDb, type AcnDb } from '#browser-storage/db.ts';
import { createTestNetwork, task, type TestNetwork } from '#test/network.ts';
import type { OutboxWorkerGo } from './outbox-worker.ts';

let net: TestNetwork;
const requester = generateNobleSigner();
beforeAll(async () => {
  net = await createTestNetwork();
});

const opened: AcnDb[] = [];
const names = new Set<string>();
async function openDb(name: string): Promise<AcnDb> {
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

let inputCounter = 0;
/** A real signed task and its input bytes. */
async function signedTask(): Promise<{ envelope: Uint8Array; input: Uint8Array; id: TaskId }> {
  const input = new TextEncoder().encode(`input ${++inputCounter}`);
  const signed = await task(net, requester, { input: sha256Hex(input) as Hash, inputBytes: input.length });
  return { envelope: signed.bytes, input, id: signed.id };
}

/** Queues `n` tasks dated a millisecond apart (delivery is oldest first) and returns their ids in order. */
async function enqueueTasks(db: AcnDb, n: number): Promise<TaskId[]> {
  const ids: TaskId[] = [];
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const t = await signedTask();
    ids.push((await enqueue(db, t, { now: () => start + i })).taskId);
  }
  return ids;
}

/** The relay, as far as the outbox sees it: records what it was given. */
function relayStub(behaviour: (taskId: TaskId, call: number) => Promise<void> | void = () => undefined) {
  const accepted: TaskId[] = [];
  let calls = 0;
  const idOf = new Map<string, TaskId>();
  return {
    accepted,
    calls: () => calls,
    remember(id: TaskId, envelope: Uint8Array) {
      idOf.set(sha256Hex(envelope), id);
    },
    submit: async (envelope: Uint8Array) => {
      calls++;
      const id = idOf.get(sha256Hex(envelope)) as TaskId;
      await behaviour(id, calls);
      accepted.push(id);
    },
  };
}

class Unreachable extends Error {
  override readonly name = 'RelayUnreachableError';
  readonly code = 'relay-unreachable';
}
class Refused extends Error {
  override readonly name = 'RelayApiError';
  readonly code = 'insufficient-funds';
}
const isRetryable = (error: unknown) => error instanceof Unreachable;

async function stubFor(db: AcnDb, behaviour?: Parameters<typeof relayStub>[0]) {
  const stub = relayStub(behaviour);
  for (const entry of await list(db)) stub.remember(entry.taskId, entry.envelope);
  return stub;
}

describe('outbox', () => {
  it('queues signed tasks oldest first, once each, and refuses an input that is not the signed one', async () => {
    const db = await openDb(`outbox-${crypto.randomUUID()}`);
    const ids = await enqueueTasks(db, 3);
    const entries = await list(db);
    expect(entries.map((e) => e.taskId)).toEqual(ids);
    for (const entry of entries) {
      expect(entry).toMatchObject({ state: 'queued', attempts: 0, maxPrice: 100 });
      expect(entry.envelope).toBeInstanceOf(Uint8Array);
    }
    // Queuing the same task again changes nothing.
    const first = entries[0];
    if (!first) throw new Error('no entry');
    expect(await enqueue(db, { envelope: first.envelope, input: first.input })).toEqual(first);
    expect(await list(db)).toHaveLength(3);

    const t = await signedTask();
    await expect(enqueue(db, { envelope: t.envelope, input: new Uint8Array([1, 2, 3]) })).rejects.toMatchObject({
      name: 'OutboxInputMismatchError',
      code: 'outbox-input-mismatch',
    });
    await expect(enqueue(db, { envelope: new Uint8Array([1, 2, 3]), input: t.input })).rejects.toMatchObject({
      code: 'malformed-encoding',
    });
    expect(await list(db)).toHaveLength(3);

    await remove(db, ids[1] as TaskId);
    expect((await list(db)).map((e) => e.taskId)).toEqual([ids[0], ids[2]]);
  });

  it('keeps entries queued on a retryable failure, then delivers each exactly once', async () => {
    const db = await openDb(`outbox-${crypto.randomUUID()}`);
    const ids = await enqueueTasks(db, 3);
    let online = false;
    const stub = await stubFor(db, () => {
      if (!online) throw new Unreachable('offline');
    });

    expect(await deliverAll(db, stub.submit, { isRetryable })).toEqual([]);
    // It stopped at the first failure: the others would fail the same way.
    expect(stub.calls()).toBe(1);
    const afterFailure = await list(db);
    expect(afterFailure.map((e) => e.state)).toEqual(['queued', 'queued', 'queued']);
    expect(afterFailure[0]).toMatchObject({ attempts: 1, lastError: 'relay-unreachable' });
    expect(afterFailure[1]).toMatchObject({ attempts: 0 });

    online = true;
    expect(await deliverAll(db, stub.submit, { isRetryable })).toEqual(ids);
    expect(stub.accepted).toEqual(ids);
    const delivered = await list(db);
    expect(delivered.map((e) => e.state)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(delivered[0]).toMatchObject({ attempts: 2 });
    expect(delivered[0]?.lastError).toBeUndefined();
    for (const entry of delivered) expect(entry.deliveredAt).toBeGreaterThanOrEqual(entry.createdAt);

    // Nothing left to deliver.
    const calls = stub.calls();
    expect(await deliverAll(db, stub.submit, { isRetryable })).toEqual([]);
    expect(stub.calls()).toBe(calls);
  });

  it('marks a permanently refused task failed with its code and delivers the rest', async () => {
    const db = await openDb(`outbox-${crypto.randomUUID()}`);
    const ids = await enqueueTasks(db, 3);
    const stub = await stubFor(db, (id) => {
      if (id === ids[1]) throw new Refused('not enough tokens');
    });
    expect(await deliverAll(db, stub.submit, { isRetryable })).toEqual([ids[0], ids[2]]);
    const entries = await list(db);
    expect(entries.map((e) => e.state)).toEqual(['delivered', 'failed', 'delivered']);
    expect(entries[1]).toMatchObject({
      state: 'failed',
      attempts: 1,
      lastError: 'insufficient-funds',
      lastErrorMessage: 'not enough tokens',
    });
    // A failed entry is not retried.
    expect(await deliverAll(db, stub.submit, { isRetryable })).toEqual([]);
    expect(stub.calls()).toBe(3);
  });

  it('delivers each entry once when two connections deliver at the same time', async () => {
    const name = `outbox-${crypto.randomUUID()}`;
    const [a, b] = [await openDb(name), await openDb(name)];
    const ids = await enqueueTasks(a, 3);
    const stub = await stubFor(a, () => new Promise((resolve) => setTimeout(resolve, 20)));
    const [fromA, fromB] = await Promise.all([
      deliverAll(a, stub.submit, { isRetryable }),
      deliverAll(b, stub.submit, { isRetryable }),
    ]);
    expect([...fromA, ...fromB].sort()).toEqual([...ids].sort());
    expect(stub.calls()).toBe(3);
    expect([...stub.accepted].sort()).toEqual([...ids].sort());
  });

  it('delivers each entry once when the page and another context (a worker, no DOM) deliver together', async () => {
    const name = `outbox-${crypto.randomUUID()}`;
    const db = await openDb(name);
    const ids = await enqueueTasks(db, 4);
    const worker = new Worker(new URL('./outbox-worker.ts', import.meta.url), { type: 'module' });
    try {
      const messages: unknown[] = [];
      const next = () =>
        new Promise<unknown>((resolve, reject) => {
          worker.onmessage = ({ data }: MessageEvent<unknown>) => {
            messages.push(data);
            resolve(data);
          };
          worker.onerror = (event) => {
            reject(new Error(event.message));
          };
        });
      expect(await next()).toBe('ready');
      const changes: OutboxChange[] = [];
      const stop = onOutboxChange((change) => changes.push(change));
      const stub = await stubFor(db, () => new Promise((resolve) => setTimeout(resolve, 15)));
      const go: OutboxWorkerGo = { dbName: name, delayMs: 15 };
      const fromWorker = next();
      worker.postMessage(go);
      // The worker goes first this time: the page asks once the worker holds the lock.
      await expect
        .poll(async () => (await navigator.locks.query()).held?.some((lock) => lock.name === 'acn-outbox'))
        .toBe(true);
      const fromPage = await deliverAll(db, stub.submit, { isRetryable });
      const result = (await fromWorker) as { delivered: TaskId[]; submissions: number; hasWindow: boolean };
      expect(result.hasWindow).toBe(false);
      expect(result.delivered).toEqual(ids);
      expect(fromPage).toEqual([]);
      expect(result.submissions).toBe(4);
      expect(stub.calls()).toBe(0);
      expect((await list(db)).every((e) => e.state === 'delivered')).toBe(true);
      // Every delivery, from either context, was announced.
      await expect.poll(() => changes.filter((c) => c.state === 'delivered').length).toBe(4);
      stop();
    } finally {
      worker.terminate();
    }
  });

  it('stops when aborted, leaving the entry queued', async () => {
    const db = await openDb(`outbox-${crypto.randomUUID()}`);
    const ids = await enqueueTasks(db, 2);
    const controller = new AbortController();
    const stub = await stubFor(db, () => {
      controller.abort();
      throw new DOMException('aborted', 'AbortError');
    });
    await expect(deliverAll(db, stub.submit, { isRetryable, signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect((await list(db)).map((e) => [e.taskId, e.state, e.attempts])).toEqual([
      [ids[0], 'queued', 0],
      [ids[1], 'queued', 0],
    ]);
  });

  it('announces queued and delivered entries on the acn-outbox channel', async () => {
    const db = await openDb(`outbox-${crypto.randomUUID()}`);
    const changes: OutboxChange[] = [];
    const stop = onOutboxChange((change) => changes.push(change));
    const [id] = await enqueueTasks(db, 1);
    const stub = await stubFor(db);
    await deliverAll(db, stub.submit, { isRetryable });
    await expect
      .poll(() => changes)
      .toEqual([
        { taskId: id, state: 'queued' },
        { taskId: id, state: 'delivered' },
      ]);
    stop();
  });
});

describe('outbox triggers', () => {
  it('delivers on start, on online and on becoming visible, one run at a time, until stopped', async () => {
    let runs = 0;
    let release: (() => void) | undefined;
    const stop = watchOutbox(async () => {
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
    });
    expect(runs).toBe(1);
    // Triggers during a run make one more run after it, not one each.
    window.dispatchEvent(new Event('online'));
    document.dispatchEvent(new Event('visibilitychange'));
    expect(runs).toBe(1);
    release?.();
    await expect.poll(() => runs).toBe(2);
    release?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs).toBe(2);

    expect(document.visibilityState).toBe('visible');
    document.dispatchEvent(new Event('visibilitychange'));
    await expect.poll(() => runs).toBe(3);
    release?.();
    window.dispatchEvent(new Event('online'));
    await expect.poll(() => runs).toBe(4);
    release?.();

    stop();
    window.dispatchEvent(new Event('online'));
    document.dispatchEvent(new Event('visibilitychange'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs).toBe(4);
  });

  it('passes errors to onError and keeps watching', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const stop = watchOutbox(
      () => {
        runs++;
        return Promise.reject(new Unreachable('offline'));
      },
      { onError: (error) => errors.push(error) },
    );
    await expect.poll(() => errors.length).toBe(1);
    window.dispatchEvent(new Event('online'));
    await expect.poll(() => errors.length).toBe(2);
    expect(runs).toBe(2);
    stop();
  });

  it('registers the acn-outbox background sync where the browser has it', async () => {
    expect('SyncManager' in globalThis).toBe(true); // Chromium
    const tags: string[] = [];
    const registration = { sync: { register: (tag: string) => Promise.resolve(void tags.push(tag)) } };
    expect(await requestBackgroundSync(registration as unknown as ServiceWorkerRegistration)).toBe(true);
    expect(tags).toEqual([OUTBOX_SYNC_TAG]);
    const refused = { sync: { register: () => Promise.reject(new DOMException('denied', 'NotAllowedError')) } };
    expect(await requestBackgroundSync(refused as unknown as ServiceWorkerRegistration)).toBe(false);
    expect(await requestBackgroundSync({} as ServiceWorkerRegistration)).toBe(false);
  });
});
