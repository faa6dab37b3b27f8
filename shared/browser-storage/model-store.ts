/**
 * Downloaded models on the device: fetched by content hash with progress
 * (bytes and rate), resumable after an interruption, checked against their
 * hash, and kept in Cache Storage under their content-addressed URL (the same
 * entries the service worker serves offline). "Delete downloaded models"
 * empties it.
 *
 * A download in progress is kept in IndexedDB chunk by chunk, so a closed tab
 * or a dropped connection resumes with an HTTP Range request where it stopped.
 * The URL is content-addressed, so the bytes behind it never change and no
 * If-Range validator is needed: the hash check at the end catches anything wrong.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { concatBytes } from '#core/encoding/bytes.ts';
import type { Hash } from '#core/identity/ids.ts';
import { checkModelBytes } from '#core/models/runtime.ts';

export const MODEL_CACHE = 'acn-models-v1';

/**
 * The model could not be downloaded: the device is offline or the relay is
 * out of reach. What arrived before the failure is kept for a resume.
 */
export class ModelUnreachableError extends Error {
  override readonly name = 'ModelUnreachableError';
  readonly code = 'model-unreachable';
}

export interface ModelFetchProgress {
  readonly hash: Hash;
  /** Bytes on the device so far, including those of an earlier, interrupted attempt. */
  readonly loaded: number;
  /** Total bytes, when the server said. */
  readonly total: number | undefined;
  /** Recent download rate. */
  readonly bytesPerSecond: number;
}

export interface FetchModelOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ModelFetchProgress) => void;
  /** Expected size from the catalogue; used for progress before the server answers. */
  readonly size?: number;
}

export interface StoredModel {
  readonly hash: Hash;
  readonly bytes: number;
}

export interface ModelStore {
  /** The model's bytes when they are on the device and intact. */
  get(hash: Hash): Promise<Uint8Array | undefined>;
  /** The model's bytes, from the device or downloaded (resuming a partial download). */
  fetch(hash: Hash, options?: FetchModelOptions): Promise<Uint8Array>;
  /** Models fully on the device. */
  list(): Promise<StoredModel[]>;
  /** Bytes of a partial download kept for resuming. */
  partialBytes(hash: Hash): Promise<number>;
  /** Deletes every downloaded model and every partial download. */
  deleteAll(): Promise<void>;
}

export interface ModelStoreInit {
  /** Where models are served, by hash. Default `/models/`. */
  readonly baseUrl?: string;
  /** IndexedDB database for partial downloads. Default `acn-model-downloads`. */
  readonly dbName?: string;
  /** Bytes gathered in memory before a chunk is written to IndexedDB. Default 1 MiB. */
  readonly chunkBytes?: number;
  /** The Cache Storage cache holding whole models. Default {@link MODEL_CACHE} (the service worker's too). */
  readonly cacheName?: string;
}

interface DownloadsDb extends DBSchema {
  /** One record per stored chunk; key [hash, offset]. */
  chunks: { key: [string, number]; value: { hash: string; offset: number; bytes: Uint8Array } };
}

export function createModelStore(init: ModelStoreInit = {}): ModelStore {
  const baseUrl = init.baseUrl ?? '/models/';
  const chunkBytes = init.chunkBytes ?? 1024 * 1024;
  const cacheName = init.cacheName ?? MODEL_CACHE;
  let db: Promise<IDBPDatabase<DownloadsDb>> | undefined;
  const database = () =>
    (db ??= openDB<DownloadsDb>(init.dbName ?? 'acn-model-downloads', 1, {
      upgrade(upgradeDb) {
        upgradeDb.createObjectStore('chunks', { keyPath: ['hash', 'offset'] });
      },
    }));
  const urlOf = (hash: Hash) => new URL(baseUrl + hash, location.href).href;

  async function get(hash: Hash): Promise<Uint8Array | undefined> {
    const cache = await caches.open(cacheName);
    const response = await cache.match(urlOf(hash));
    if (!response) return undefined;
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (checkModelBytes(bytes, hash).ok) return bytes;
    await cache.delete(urlOf(hash)); // corrupted: forget it, fetch again
    return undefined;
  }

  async function storedChunks(hash: Hash): Promise<Uint8Array[]> {
    const range = IDBKeyRange.bound([hash, 0], [hash, Number.MAX_SAFE_INTEGER]);
    return (await (await database()).getAll('chunks', range)).map((c) => c.bytes);
  }

  async function clearPartial(hash: Hash): Promise<void> {
    await (await database()).delete('chunks', IDBKeyRange.bound([hash, 0], [hash, Number.MAX_SAFE_INTEGER]));
  }

  async function download(hash: Hash, options: FetchModelOptions): Promise<Uint8Array> {
    const idb = await database();
    let chunks = await storedChunks(hash);
    let loaded = chunks.reduce((n, c) => n + c.length, 0);
    const headers: Record<string, string> = loaded > 0 ? { Range: `bytes=${loaded}-` } : {};
    const response = await overNetwork(
      hash,
      fetch(urlOf(hash), { headers, ...(options.signal ? { signal: options.signal } : {}) }),
    );
    if (response.status === 200 && loaded > 0) {
      // The server does not do ranges and sent the whole file: start over.
      await clearPartial(hash);
      chunks = [];
      loaded = 0;
    } else if (response.status !== 206 && response.status !== 200) {
      throw new Error(`downloading model ${hash} failed: HTTP ${response.status}`);
    }
    const total = totalOf(response, loaded) ?? options.size;
    if (!response.body) throw new Error(`downloading model ${hash} failed: empty response`);

    const rate = rateMeter();
    const report = () => options.onProgress?.({ hash, loaded, total, bytesPerSecond: rate.perSecond() });
    report();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const bytes = concatBytes(...pending);
      await idb.put('chunks', { hash, offset: loaded - bytes.length, bytes });
      chunks.push(bytes);
      pending = [];
      pendingBytes = 0;
    };
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await overNetwork(hash, reader.read());
        if (done) break;
        pending.push(value);
        pendingBytes += value.length;
        loaded += value.length;
        rate.add(value.length);
        if (pendingBytes >= chunkBytes) await flush();
        report();
      }
    } finally {
      // Keep what arrived, whether the download finished, failed or was aborted.
      await flush();
    }
    const bytes = concatBytes(...chunks);
    const checked = checkModelBytes(bytes, hash);
    await clearPartial(hash);
    if (!checked.ok) throw checked.error;
    const cache = await caches.open(cacheName);
    await cache.put(
      urlOf(hash),
      new Response(bytes, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
      }),
    );
    return bytes;
  }

  return {
    get,
    async fetch(hash, options = {}) {
      return (await get(hash)) ?? download(hash, options);
    },
    async list() {
      const cache = await caches.open(cacheName);
      const models: StoredModel[] = [];
      for (const request of await cache.keys()) {
        const response = await cache.match(request);
        const hash = new URL(request.url).pathname.split('/').pop() as Hash;
        models.push({ hash, bytes: Number(response?.headers.get('Content-Length') ?? 0) });
      }
      return models;
    },
    async partialBytes(hash) {
      return (await storedChunks(hash)).reduce((n, c) => n + c.length, 0);
    },
    async deleteAll() {
      await caches.delete(cacheName);
      await (await database()).clear('chunks');
    },
  };
}

/**
 * Awaits one network step of a download. The Fetch standard rejects with a
 * TypeError on a network failure (an abort is a DOMException): that becomes
 * a {@link ModelUnreachableError}.
 */
async function overNetwork<T>(hash: Hash, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new ModelUnreachableError(`downloading model ${hash} failed: ${error.message}`, { cause: error });
  }
}

function totalOf(response: Response, offset: number): number | undefined {
  const range = response.headers.get('Content-Range');
  const full = range ? /\/(\d+)$/.exec(range)?.[1] : undefined;
  if (full !== undefined) return Number(full);
  const length = response.headers.get('Content-Length');
  return length === null ? undefined : offset + Number(length);
}

/** Bytes per second over roughly the last two seconds. */
function rateMeter(): { add(bytes: number): void; perSecond(): number } {
  const samples: { at: number; bytes: number }[] = [];
  return {
    add(bytes) {
      const now = performance.now();
      samples.push({ at: now, bytes });
      while (samples.length > 1 && now - (samples[0]?.at ?? now) > 2000) samples.shift();
    },
    perSecond() {
      const first = samples[0];
      const last = samples.at(-1);
      if (!first || !last || last.at === first.at) return 0;
      const bytes = samples.reduce((n, s) => n + s.bytes, 0) - first.bytes;
      return (bytes * 1000) / (last.at - first.at);
    },
  };
}
