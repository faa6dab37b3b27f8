/**
 * Where a light client keeps the block headers it has verified, by height:
 * the encoded, relay-signed header envelopes. Verification checks a new
 * header against its stored neighbours (a relay that signs two different
 * blocks at one height, or rewrites history, is caught there).
 *
 * Only verified headers go in, so reading one back needs no signature check.
 * The app keeps them in IndexedDB; this module has the in-memory store.
 */

export interface HeaderStoreOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface HeaderStore {
  /** The encoded header at `height`, or undefined when none is stored. */
  get(height: number, options?: HeaderStoreOptions): Promise<Uint8Array | undefined>;
  /** Stores the encoded header at `height` (replacing nothing: callers put only verified, linked headers). */
  put(height: number, header: Uint8Array, options?: HeaderStoreOptions): Promise<void>;
  /** The highest stored height, 0 when empty. */
  head(options?: HeaderStoreOptions): Promise<number>;
}

/** A header store in memory: for tests, the CLI and pages that keep nothing. */
export function createMemoryHeaderStore(): HeaderStore {
  const headers = new Map<number, Uint8Array>();
  let head = 0;
  return {
    get: (height) => Promise.resolve(headers.get(height)),
    put(height, header) {
      headers.set(height, Uint8Array.from(header));
      head = Math.max(head, height);
      return Promise.resolve();
    },
    head: () => Promise.resolve(head),
  };
}
