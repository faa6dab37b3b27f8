/**
 * The canary store: known answers made on the pool for the models it can
 * make inputs for, each sent to a worker at most once, shared by up to
 * `maxUses` workers, at most `perModel` kept, and none when the pool cannot
 * give a clear answer.
 */
import { describe, expect, it } from 'vitest';
import type { AccountId } from '#core/identity/ids.ts';
import { PoolBusyError } from '#node/pool/errors.ts';
import { createCanaryStore, type CanaryStoreInit } from '#server/trust/canary-store.ts';
import { fakePool, languageEntry, languageOutput } from '#test/task-service-fakes.ts';
import { signerFor } from '#test/network.ts';
import { languageIdPipeline } from '#core/pipelines/language-id/pipeline.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { encodeTextResult } from '#core/pipelines/text-generation/result.ts';

const entry = languageEntry();
const workers: AccountId[] = ['a', 'b', 'c', 'd', 'e'].map((n) => signerFor(`canary worker ${n}`).accountId);
const [w1, w2, w3] = workers as [AccountId, AccountId, AccountId];

function setup(overrides: Partial<CanaryStoreInit> = {}) {
  const pool = fakePool();
  let made = 0;
  const compute: number[] = [];
  const store = createCanaryStore({
    pool,
    generatorFor: (pre) =>
      pre === 'language-id'
        ? () => {
            made++;
            return new TextEncoder().encode(`input ${made}`);
          }
        : undefined,
    onCompute: (ms) => compute.push(ms),
    ...overrides,
  });
  return { pool, store, compute };
}

describe('canary store', () => {
  it('supports models it can make inputs for, never heavy ones', () => {
    const { store } = setup();
    expect(store.supports(entry)).toBe(true);
    expect(store.supports(languageEntry({ sizeClass: 'heavy' }))).toBe(false);
    expect(store.supports(languageEntry({ pre: 'tensor' }))).toBe(false);
  });

  it('supports what the real generators make by default', () => {
    const store = createCanaryStore({ pool: fakePool() });
    expect(store.supports(entry)).toBe(true);
    expect(store.supports(languageEntry({ pre: 'no-such-pipeline' }))).toBe(false);
  });

  it('makes a case on the pool with its answer, counting the compute', async () => {
    const { pool, store, compute } = setup();
    const made = await store.take(entry, w1);
    expect(made).toEqual({ input: new TextEncoder().encode('input 1'), output: languageOutput('eng'), units: 1 });
    expect(pool.runs).toEqual([{ model: entry.id, input: made?.input }]);
    expect(compute).toEqual([7]);
  });

  it('shares a case among workers but never sends it twice to the same one', async () => {
    const { pool, store } = setup();
    const first = await store.take(entry, w1);
    expect(await store.take(entry, w2)).toBe(first);
    const again = await store.take(entry, w1);
    expect(again).not.toBe(first);
    expect(pool.runs).toHaveLength(2);
  });

  it('retires a case after maxUses workers', async () => {
    const { pool, store } = setup({ maxUses: 2 });
    const first = await store.take(entry, w1);
    expect(await store.take(entry, w2)).toBe(first);
    expect(await store.take(entry, w3)).not.toBe(first);
    expect(pool.runs).toHaveLength(2);
  });

  it('keeps at most perModel cases, dropping the oldest', async () => {
    const { store } = setup({ perModel: 1 });
    const first = await store.take(entry, w1);
    const second = await store.take(entry, w1);
    expect(second).not.toBe(first);
    // The first case was dropped, so w2 gets the second one, not the first.
    expect(await store.take(entry, w2)).toBe(second);
  });

  it('tries other inputs while the answer is not clear, then gives up', async () => {
    const { pool, store } = setup({ maxAttempts: 3 });
    const unclear = languageIdPipeline.encodeOutput({
      label: 'eng',
      confidence: 0.5,
      top: [
        { label: 'eng', p: 0.5 },
        { label: 'fra', p: 0.45 },
      ],
    });
    pool.answer = () => unclear;
    await expect(store.take(entry, w1)).resolves.toBeUndefined();
    expect(pool.runs).toHaveLength(3);
    let calls = 0;
    pool.answer = () => (++calls < 2 ? unclear : languageOutput('fra'));
    await expect(store.take(entry, w1)).resolves.toMatchObject({ output: languageOutput('fra') });
  });

  it('makes none when the pool refuses, or for a model without a generator', async () => {
    const { pool, store } = setup();
    pool.answer = () => new PoolBusyError('busy');
    await expect(store.take(entry, w1)).resolves.toBeUndefined();
    await expect(store.take(languageEntry({ pre: 'tensor' }), w1)).resolves.toBeUndefined();
  });

  it('makes a text-generation case without a reference run when the pool checks answers itself', async () => {
    const text = languageEntry({ kind: 'text-generation', pre: 'text-generation', post: 'text-generation' });
    const checks: Uint8Array[] = [];
    const pool = {
      ...fakePool(),
      check: (_model: unknown, input: Uint8Array) => {
        checks.push(input);
        return Promise.resolve({ verdict: { ok: true as const }, runMs: 1 });
      },
    };
    const store = createCanaryStore({ pool });
    expect(store.supports(text)).toBe(true);
    const made = await store.take(text, w1);
    expect(made?.output).toBeUndefined();
    expect(textGenerationPipeline.decodeInput(made?.input ?? new Uint8Array()).ok).toBe(true);
    // Nothing ran: the worker's answer is what the pool will check.
    expect(pool.runs).toEqual([]);
    expect(checks).toEqual([]);
    // Without a checker the pool's own answer is the known one, as for every other model.
    const plain = fakePool();
    const answer = encodeTextResult({ text: 'In', pieces: [73, 110], promptPieces: 11, finish: 'length' });
    plain.answer = () => answer;
    await expect(createCanaryStore({ pool: plain }).take(text, w1)).resolves.toMatchObject({ output: answer });
    expect(plain.runs).toHaveLength(1);
  });

  it('stops making a case once its signal is aborted', async () => {
    const { pool, store } = setup();
    const controller = new AbortController();
    controller.abort();
    await expect(store.take(entry, w1, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(pool.runs).toEqual([]);
  });
});
