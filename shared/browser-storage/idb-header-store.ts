/**
 * The SDK's {@link HeaderStore} over the `headers` object store, so verified
 * block headers outlive the page.
 */
import type { HeaderStore } from '#client/sdk/header-store.ts';
import type { AcnDb } from './db.ts';

export function createIdbHeaderStore(db: AcnDb): HeaderStore {
  return {
    async get(height, options = {}) {
      options.signal?.throwIfAborted();
      return (await db.get('headers', height))?.header;
    },
    async put(height, header, options = {}) {
      options.signal?.throwIfAborted();
      // A copy: the caller may reuse its buffer, and a view of a larger buffer would store all of it.
      await db.put('headers', { height, header: Uint8Array.from(header) });
    },
    async head(options = {}) {
      options.signal?.throwIfAborted();
      const last = await db.transaction('headers').store.openCursor(null, 'prev');
      return last?.value.height ?? 0;
    },
  };
}
