/** Every runner refuses model bytes that do not match their content address. */
import { describe, expect, it } from 'vitest';
import type { Hash } from '#core/identity/ids.ts';
import { loadCatalogue, modelFile, platformRuntimes } from '#test/models.ts';

describe('content-addressed model loading', () => {
  it('every shipped file is stored under the SHA-256 of its bytes and loads in every runtime', async () => {
    const { sha256Hex } = await import('#core/encoding/bytes.ts');
    const catalogue = await loadCatalogue();
    expect(catalogue.models.length).toBeGreaterThan(0);
    const smallest = [...catalogue.models].sort((a, b) => a.bytes - b.bytes)[0];
    if (!smallest) throw new Error('empty catalogue');
    const bytes = await modelFile(smallest.id);
    expect(sha256Hex(bytes)).toBe(smallest.id);
    for (const runtime of await platformRuntimes()) {
      const session = await runtime.load(bytes, smallest.id);
      expect(session.inputNames.length).toBeGreaterThan(0);
      await session.release();
    }
  });

  it('a model whose bytes do not match its hash is refused by every runtime', async () => {
    const catalogue = await loadCatalogue();
    const entry = [...catalogue.models].sort((a, b) => a.bytes - b.bytes)[0];
    if (!entry) throw new Error('empty catalogue');
    const bytes = await modelFile(entry.id);
    const tampered = bytes.slice();
    tampered[tampered.length >> 1] = (tampered[tampered.length >> 1] as number) ^ 0x01;
    const otherId = 'f'.repeat(64) as Hash;
    for (const runtime of await platformRuntimes()) {
      await expect(runtime.load(tampered, entry.id), runtime.name).rejects.toMatchObject({
        name: 'ModelHashMismatchError',
        code: 'model-hash-mismatch',
      });
      await expect(runtime.load(bytes, otherId), runtime.name).rejects.toMatchObject({
        name: 'ModelHashMismatchError',
      });
    }
  });
});
