/**
 * The worker's models on disk: content-addressed files `<sha256>` in one
 * directory (the layout the inference pool reads), downloaded from the
 * relay's `GET /models/<sha256>`. Bytes are checked against their address
 * before they are written (and again by the runtime whenever a session is
 * loaded), so a relay or proxy serving other bytes cannot plant a model.
 * Files are written to a temporary name and renamed, so a crash never leaves
 * half a model under a valid name.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hash } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { checkModelBytes } from '#core/models/runtime.ts';

const HASH_NAME = /^[0-9a-f]{64}$/;

export interface ModelCacheInit {
  /** The directory of model files (created if missing). */
  readonly dir: string;
  /** The relay's base URL; files come from `<relayUrl>/models/<sha256>`. */
  readonly relayUrl: string;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Longest wait for one file. Default 5 min. */
  readonly timeoutMs?: number;
}

export interface ModelCache {
  readonly dir: string;
  /**
   * Makes every file of `entry` (its ONNX file and assets) present and
   * verified, downloading what is missing. Resolves to the bytes downloaded.
   * Rejects with `ModelHashMismatchError` when the relay serves other bytes.
   */
  ensure(entry: ModelEntry, options?: { readonly signal?: AbortSignal }): Promise<number>;
  /** Deletes every cached file not in `keep`; resolves to the bytes freed. */
  prune(keep: ReadonlySet<Hash>): Promise<number>;
  /** Bytes of the files cached now. */
  usage(): Promise<number>;
}

/** The content addresses of every file a model needs. */
export function modelFiles(entry: ModelEntry): { readonly id: Hash; readonly bytes: number }[] {
  return [{ id: entry.id, bytes: entry.bytes }, ...entry.assets];
}

export function createModelCache(init: ModelCacheInit): ModelCache {
  const { dir } = init;
  const relayUrl = init.relayUrl.replace(/\/+$/, '');
  const fetchFn = init.fetch ?? globalThis.fetch;
  const timeoutMs = init.timeoutMs ?? 5 * 60_000;
  /** Files checked in this process: a file is hashed once per run, not per call. */
  const verified = new Set<Hash>();

  async function present(id: Hash): Promise<boolean> {
    if (verified.has(id)) return true;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, id));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    if (!checkModelBytes(bytes, id).ok) {
      await rm(join(dir, id), { force: true }); // damaged on disk: fetch it again
      return false;
    }
    verified.add(id);
    return true;
  }

  async function download(id: Hash, expectedBytes: number, signal: AbortSignal | undefined): Promise<number> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await fetchFn(`${relayUrl}/models/${id}`, {
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
    if (!response.ok) throw new Error(`GET /models/${id} answered ${response.status}`);
    const declared = Number(response.headers.get('content-length') ?? expectedBytes);
    if (declared !== expectedBytes) {
      await response.body?.cancel();
      throw new Error(`the relay offers ${declared} bytes for model file ${id}; the catalogue says ${expectedBytes}`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const checked = checkModelBytes(bytes, id);
    if (!checked.ok) throw checked.error;
    const temporary = join(dir, `.${id}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(temporary, bytes);
    await rename(temporary, join(dir, id));
    verified.add(id);
    return bytes.length;
  }

  return {
    dir,
    async ensure(entry, options = {}) {
      await mkdir(dir, { recursive: true });
      let downloaded = 0;
      for (const file of modelFiles(entry)) {
        options.signal?.throwIfAborted();
        if (!(await present(file.id))) downloaded += await download(file.id, file.bytes, options.signal);
      }
      return downloaded;
    },
    async prune(keep) {
      let freed = 0;
      for (const name of await readdir(dir).catch(() => [])) {
        const stale = HASH_NAME.test(name) ? !keep.has(name as Hash) : name.endsWith('.tmp');
        if (!stale) continue;
        freed += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size;
        await rm(join(dir, name), { force: true });
        verified.delete(name as Hash);
      }
      return freed;
    },
    async usage() {
      let total = 0;
      for (const name of await readdir(dir).catch(() => [])) {
        if (HASH_NAME.test(name)) total += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size;
      }
      return total;
    },
  };
}
