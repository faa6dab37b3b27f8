/**
 * The app's model store in real Chromium: download with progress, interrupt,
 * resume with a Range request, hash check, Cache Storage, delete. The "model"
 * is a large file the test server already serves (onnxruntime's wasm), whose
 * hash the test computes first.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { Hash } from '#core/identity/ids.ts';
import { createModelStore, type ModelFetchProgress } from '#browser-storage/model-store.ts';

const BASE = '/node_modules/onnxruntime-web/dist/';
const FILE = 'ort-wasm-simd-threaded.wasm';

let hash: Hash;
let size: number;

/** The URL a fetch() call asks for. */
const requestUrl = (input: RequestInfo | URL): string =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;

// The store fetches `${baseUrl}${hash}`; map that URL back to the real file.
const realFetch = globalThis.fetch.bind(globalThis);
const requests: { url: string; range: string | null }[] = [];
globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
  const url = requestUrl(input);
  if (hash && url.endsWith(`${BASE}${hash}`)) {
    requests.push({ url, range: new Headers(init?.headers).get('Range') });
    return realFetch(url.replace(hash, FILE), init);
  }
  return realFetch(input, init);
};

beforeAll(async () => {
  const bytes = new Uint8Array(await (await realFetch(BASE + FILE)).arrayBuffer());
  hash = sha256Hex(bytes) as Hash;
  size = bytes.length;
});

// A cache and database of its own: other test files in this browser keep real models in the app's.
const store = createModelStore({
  baseUrl: BASE,
  dbName: 'test-model-downloads',
  cacheName: 'test-model-store',
  chunkBytes: 256 * 1024,
});

afterEach(async () => {
  await store.deleteAll();
  requests.length = 0;
});

describe('model store', () => {
  it('downloads with progress, verifies the hash and keeps the model in Cache Storage', async () => {
    const progress: ModelFetchProgress[] = [];
    const bytes = await store.fetch(hash, { onProgress: (p) => progress.push(p) });
    expect(sha256Hex(bytes)).toBe(hash);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)?.loaded).toBe(size);
    expect(progress.at(-1)?.total).toBe(size);
    for (let i = 1; i < progress.length; i++) {
      expect((progress[i] as ModelFetchProgress).loaded).toBeGreaterThanOrEqual(
        (progress[i - 1] as ModelFetchProgress).loaded,
      );
    }
    expect(await store.list()).toEqual([{ hash, bytes: size }]);
    // A second fetch is served from the device.
    const before = requests.length;
    expect((await store.fetch(hash)).length).toBe(size);
    expect(requests.length).toBe(before);
  });

  it('resumes an interrupted download with a Range request', async () => {
    const controller = new AbortController();
    const first = store.fetch(hash, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.loaded > size / 3) controller.abort();
      },
    });
    await expect(first).rejects.toThrow();
    const kept = await store.partialBytes(hash);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(size);

    const progress: ModelFetchProgress[] = [];
    const bytes = await store.fetch(hash, { onProgress: (p) => progress.push(p) });
    expect(sha256Hex(bytes)).toBe(hash);
    expect(requests.at(-1)?.range).toBe(`bytes=${kept}-`);
    expect(progress[0]?.loaded).toBe(kept);
    expect(await store.partialBytes(hash)).toBe(0);
  });

  it('says the relay is out of reach when the download cannot start, and keeps what arrived when it breaks off', async () => {
    const unreachable = createModelStore({
      baseUrl: 'http://127.0.0.1:9/models/',
      dbName: 'test-model-downloads',
      cacheName: 'test-model-store',
    });
    await expect(unreachable.fetch(hash)).rejects.toMatchObject({
      name: 'ModelUnreachableError',
      code: 'model-unreachable',
    });

    // The connection drops after the first 100 kB.
    const broken = '1'.repeat(64) as Hash;
    globalThis.fetch = ((orig) => (input: RequestInfo | URL, init?: RequestInit) => {
      const url = requestUrl(input);
      if (!url.endsWith(broken)) return orig(input, init);
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) controller.error(new TypeError('network error'));
          else controller.enqueue(new Uint8Array(100_000));
          sent = true;
        },
      });
      return Promise.resolve(new Response(body, { headers: { 'Content-Length': '200000' } }));
    })(globalThis.fetch);
    await expect(store.fetch(broken)).rejects.toMatchObject({ name: 'ModelUnreachableError' });
    expect(await store.partialBytes(broken)).toBe(100_000);
    expect(await store.list()).toEqual([]);
  });

  it('refuses bytes that do not match the hash and keeps nothing', async () => {
    const wrong = '0'.repeat(64) as Hash;
    globalThis.fetch = ((orig) => (input: RequestInfo | URL, init?: RequestInit) => {
      const url = requestUrl(input);
      return url.endsWith(wrong) ? realFetch(url.replace(wrong, FILE), init) : orig(input, init);
    })(globalThis.fetch);
    await expect(store.fetch(wrong)).rejects.toMatchObject({ name: 'ModelHashMismatchError' });
    expect(await store.list()).toEqual([]);
    expect(await store.partialBytes(wrong)).toBe(0);
  });

  it('deletes every downloaded model', async () => {
    await store.fetch(hash);
    expect(await store.list()).toHaveLength(1);
    await store.deleteAll();
    expect(await store.list()).toEqual([]);
    expect(await store.get(hash)).toBeUndefined();
  });
});
