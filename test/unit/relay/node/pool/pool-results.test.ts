/**
 * The relay's inference pool gives the same bytes as running the pipeline
 * directly on onnxruntime-node, and its failures come back typed across the
 * thread boundary: bad input, unknown model, tampered or missing model files.
 * Model sessions are cached per worker and evicted least recently used.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOrtNodeRuntime } from '#node/inference/ort-node-runtime.ts';
import { readCatalogue } from '#node/models/catalogue-store.ts';
import { InferenceFailedError, UnknownModelError } from '#node/pool/errors.ts';
import { createInferencePool, type InferencePool, type InferencePoolInit } from '#node/pool/inference-pool.ts';
import { fromBase64Url, sha256Hex } from '#core/encoding/bytes.ts';
import type { ModelId } from '#core/identity/ids.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { InvalidModelInputError, ModelHashMismatchError } from '#core/models/errors.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { CLOTHING_PIXELS, clothingPipeline } from '#core/pipelines/image-classification/index.ts';
import { languageIdPipeline } from '#core/pipelines/language-id/index.ts';
import clothingFixture from '#model-fixtures/clothing.json';
import languageFixture from '#model-fixtures/language-id.json';

const MODELS_DIR = 'dist/models';
let catalogue: Catalogue;
let languageId: ModelEntry;
let clothing: ModelEntry;
let pool: InferencePool | undefined;

const sentences = languageFixture.sentences.map((s) => languageIdPipeline.encodeInput(s.text));
const pixels = fromBase64Url(clothingFixture.images);
const images = Array.from({ length: clothingFixture.count }, (_, n) =>
  clothingPipeline.encodeInput({
    width: 28,
    height: 28,
    channels: 1,
    data: pixels.subarray(n * CLOTHING_PIXELS, (n + 1) * CLOTHING_PIXELS),
  }),
);

async function startPool(init: Partial<InferencePoolInit> = {}): Promise<InferencePool> {
  pool = createInferencePool({ modelsDir: MODELS_DIR, catalogue: () => Promise.resolve(catalogue), ...init });
  await pool.start();
  return pool;
}

/** Runs every input through `entry`'s pipeline in the test's own thread: the reference bytes. */
async function runDirectly(entry: ModelEntry, inputs: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const pipeline = pipelineFor(entry.pre);
  if (!pipeline) throw new Error(`no pipeline ${entry.pre}`);
  const main = await createOrtNodeRuntime({ threads: 1 }).load(await readFile(join(MODELS_DIR, entry.id)), entry.id);
  try {
    const outputs = [];
    for (const bytes of inputs) {
      const input = pipeline.decodeInput(bytes);
      if (!input.ok) throw input.error;
      outputs.push(pipeline.encodeOutput(await pipeline.run({ main, sessions: {}, files: {} }, input.value)));
    }
    return outputs;
  } finally {
    await main.release();
  }
}

beforeAll(async () => {
  catalogue = await readCatalogue(MODELS_DIR);
  const ofKind = (kind: ModelEntry['kind']): ModelEntry => {
    const entry = catalogue.models.find((m) => m.kind === kind);
    if (!entry) throw new Error(`no ${kind} model in ${MODELS_DIR}`);
    return entry;
  };
  languageId = ofKind('language-id');
  clothing = ofKind('image-classification');
});

afterEach(async () => {
  await pool?.stop();
  pool = undefined;
});

describe('inference pool results', () => {
  it.each([
    ['language-id', () => languageId, () => sentences],
    ['clothing', () => clothing, () => images],
  ])('gives the same bytes as the %s pipeline run directly', async (_, entryOf, inputsOf) => {
    const entry = entryOf();
    const inputs = inputsOf();
    const expected = await runDirectly(entry, inputs);
    const running = await startPool({
      limits: { threads: 1, concurrentTasks: 2, memoryBytes: 64 << 20 },
      maxQueued: inputs.length,
    });

    const results = await Promise.all(inputs.map((input) => running.run(entry.id, input)));

    const pipeline = pipelineFor(entry.pre);
    results.forEach((result, i) => {
      const input = pipeline?.decodeInput(inputs[i] as Uint8Array);
      expect(input?.ok).toBe(true);
      expect(result.output).toEqual(expected[i]);
      expect(result.outputHash).toBe(sha256Hex(expected[i] as Uint8Array));
      expect(result.units).toBe(input?.ok ? pipeline?.units(input.value) : undefined);
      expect(result.backend).toBe('native');
      expect(result.threads).toBe(1);
      expect(result.runMs).toBeGreaterThan(0);
    });
    const stats = running.stats();
    expect(stats).toMatchObject({ completed: inputs.length, failed: 0, busy: 0, queued: 0 });
    expect(stats.peakBusy).toBeLessThanOrEqual(2);
    expect(stats.models.map((m) => m.id)).toEqual([entry.id]);
  });

  it('leaves the caller its input buffer', async () => {
    const running = await startPool();
    const input = sentences[0] as Uint8Array;
    const copy = input.slice();
    await running.run(languageId.id, input);
    expect(input).toEqual(copy);
  });

  it('answers bad input with the pipeline’s InvalidModelInputError', async () => {
    const running = await startPool();
    const error = await running.run(clothing.id, new Uint8Array([1, 2, 3])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidModelInputError);
    expect(error).toMatchObject({ name: 'InvalidModelInputError', code: 'invalid-model-input' });
    // The worker goes on serving.
    await expect(running.run(clothing.id, images[0] as Uint8Array)).resolves.toMatchObject({ backend: 'native' });
    expect(running.stats()).toMatchObject({ completed: 1, failed: 1, crashed: 0 });
  });

  it('refuses a model that is not in the catalogue with UnknownModelError', async () => {
    const running = await startPool();
    const error = await running.run('00'.repeat(32) as ModelId, new Uint8Array(4)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownModelError);
    expect(error).toMatchObject({ name: 'UnknownModelError', code: 'unknown-model' });
    expect(running.stats()).toMatchObject({ refused: 1, completed: 0 });
  });

  describe('with a models directory of its own', () => {
    let dir: string;
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('checks model files against their hash and reports missing ones', async () => {
      dir = await mkdtemp(join(tmpdir(), 'acn-pool-'));
      const tampered = await readFile(join(MODELS_DIR, languageId.id));
      const last = tampered.length - 1;
      tampered[last] = (tampered[last] as number) ^ 1;
      await writeFile(join(dir, languageId.id), tampered);
      const running = await startPool({ modelsDir: dir });

      const mismatch = await running.run(languageId.id, sentences[0] as Uint8Array).catch((e: unknown) => e);
      expect(mismatch).toBeInstanceOf(ModelHashMismatchError);
      expect(mismatch).toMatchObject({ code: 'model-hash-mismatch' });

      const missing = await running.run(clothing.id, images[0] as Uint8Array).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(InferenceFailedError);
      expect(missing).toMatchObject({ code: 'inference-failed' });

      await copyFile(join(MODELS_DIR, clothing.id), join(dir, clothing.id));
      await expect(running.run(clothing.id, images[0] as Uint8Array)).resolves.toMatchObject({ units: 1 });
    });

    it("loads assets with the main model (sessions for the pipeline's sessionAssets, raw files otherwise), all hash-checked", async () => {
      dir = await mkdtemp(join(tmpdir(), 'acn-pool-'));
      const keys = new TextEncoder().encode("'\nkey list of a test\n");
      await copyFile(join(MODELS_DIR, languageId.id), join(dir, languageId.id));
      await copyFile(join(MODELS_DIR, clothing.id), join(dir, clothing.id));
      await writeFile(join(dir, sha256Hex(keys)), keys);
      // The language-id pipeline ignores these assets; the worker must still load and check them.
      const entry: ModelEntry = {
        ...languageId,
        assets: [
          { role: 'net', id: clothing.id, bytes: clothing.bytes },
          { role: 'keys', id: sha256Hex(keys) as ModelEntry['assets'][number]['id'], bytes: keys.length },
        ],
      };
      const withAssets: Catalogue = { v: 1, models: [entry] };
      const first = await startPool({ modelsDir: dir, catalogue: () => Promise.resolve(withAssets) });
      await expect(first.run(entry.id, sentences[0] as Uint8Array)).resolves.toMatchObject({ units: 1 });
      expect(first.stats().cachedBytes).toBe((languageId.bytes + clothing.bytes + keys.length) * 2);
      await first.stop();

      await writeFile(join(dir, sha256Hex(keys)), keys.subarray(1));
      const second = await startPool({ modelsDir: dir, catalogue: () => Promise.resolve(withAssets) });
      const error = await second.run(entry.id, sentences[0] as Uint8Array).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelHashMismatchError);
      expect(second.stats().models).toEqual([]);
    });
  });

  it('keeps sessions within the memory budget, least recently used evicted first', async () => {
    // Estimated at twice the file size, either model fits 900 kB, both do not.
    const both = (languageId.bytes + clothing.bytes) * 2;
    expect(Math.max(languageId.bytes, clothing.bytes) * 2).toBeLessThan(900_000);
    expect(both).toBeGreaterThan(900_000);
    const running = await startPool({ limits: { threads: 1, concurrentTasks: 1, memoryBytes: 900_000 } });
    const cached = (): string[] => running.stats().models.map((m) => m.id);

    await running.run(languageId.id, sentences[0] as Uint8Array);
    expect(cached()).toEqual([languageId.id]);
    await running.run(clothing.id, images[0] as Uint8Array);
    expect(cached()).toEqual([clothing.id]);
    expect(running.stats().cachedBytes).toBe(clothing.bytes * 2);

    running.resize({ threads: 1, concurrentTasks: 1, memoryBytes: both });
    await running.run(languageId.id, sentences[1] as Uint8Array);
    expect(cached().sort()).toEqual([languageId.id, clothing.id].sort());
    expect(running.stats().cachedBytes).toBe(both);

    // Shrinking the budget evicts at once: clothing was used least recently.
    running.resize({ threads: 1, concurrentTasks: 1, memoryBytes: languageId.bytes * 2 });
    await vi.waitFor(() => {
      expect(cached()).toEqual([languageId.id]);
    });
    expect(running.stats().workers).toBe(1);
  });
});
