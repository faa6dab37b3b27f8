/**
 * The contract every {@link HeaderStore} keeps, run against each
 * implementation through a setup function (like automerge-repo's
 * `runStorageAdapterTests`): the encoded header stored at a height comes back
 * byte for byte, an empty height has none, and the head is the highest height
 * stored (0 when empty), whatever order the heights came in.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HeaderStore } from '#client/sdk/header-store.ts';

export interface HeaderStoreHarness {
  /** An empty store. */
  open(): Promise<HeaderStore>;
  /** Removes whatever the harness created. Default: nothing. */
  teardown?(): Promise<void>;
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

export function runHeaderStoreContract(
  name: string,
  setup: () => HeaderStoreHarness | Promise<HeaderStoreHarness>,
): void {
  describe(`HeaderStore contract: ${name}`, () => {
    let harness: HeaderStoreHarness;
    let store: HeaderStore;

    beforeEach(async () => {
      harness = await setup();
      store = await harness.open();
    });
    afterEach(async () => {
      await harness.teardown?.();
    });

    it('starts empty: head 0 and no header at any height', async () => {
      expect(await store.head()).toBe(0);
      for (const height of [0, 1, 2, 1000]) expect(await store.get(height)).toBeUndefined();
    });

    it('gives back exactly the bytes stored at a height, and nothing at the others', async () => {
      const header = new Uint8Array(300).map((_, i) => i * 13);
      await store.put(1, header);
      const stored = await store.get(1);
      expect(stored).toBeInstanceOf(Uint8Array);
      expect(stored).toEqual(header);
      expect(await store.get(0)).toBeUndefined();
      expect(await store.get(2)).toBeUndefined();
    });

    it('keeps the head at the highest height stored, whatever order they came in', async () => {
      await store.put(2, bytes(2));
      expect(await store.head()).toBe(2);
      await store.put(10, bytes(10));
      expect(await store.head()).toBe(10);
      await store.put(1, bytes(1));
      expect(await store.head()).toBe(10);
      expect(await store.get(1)).toEqual(bytes(1));
      expect(await store.get(2)).toEqual(bytes(2));
      expect(await store.get(10)).toEqual(bytes(10));
      for (const gap of [3, 9, 11]) expect(await store.get(gap)).toBeUndefined();
    });

    it('stores the bytes of a view alone, not the rest of its buffer', async () => {
      const buffer = bytes(9, 1, 2, 3, 9);
      await store.put(2, buffer.subarray(1, 4));
      const two = await store.get(2);
      expect(two).toEqual(bytes(1, 2, 3));
      expect(two?.buffer.byteLength).toBe(3);
    });

    it('keeps its own copy: the caller may reuse its buffer after a put', async () => {
      const buffer = bytes(1, 2, 3);
      await store.put(1, buffer);
      buffer.fill(0);
      expect(await store.get(1)).toEqual(bytes(1, 2, 3));
    });

    it('keeps many headers, put one after another or all at once', async () => {
      for (let height = 1; height <= 20; height++) await store.put(height, bytes(height, height));
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(40 - i, bytes(40 - i))));
      expect(await store.head()).toBe(40);
      for (let height = 1; height <= 20; height++) expect(await store.get(height)).toEqual(bytes(height, height));
      for (let height = 21; height <= 40; height++) expect(await store.get(height)).toEqual(bytes(height));
    });
  });
}
