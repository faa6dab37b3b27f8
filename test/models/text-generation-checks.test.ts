/**
 * An honest worker on another backend is never convicted: 200 sampled
 * text-generation tasks (varied prompts, seeds, temperatures from 0 to 1.2,
 * top-k and top-p, some with stop strings) are generated with onnxruntime-web
 * WASM here in Node, the backend of a phone or a browser tab, and each answer
 * is judged by the relay's native pool with the forced pass that decides
 * slashes. Every one must pass: the two backends differ in the last bits of
 * their logits, and the sampler's tolerance for near-ties must absorb that.
 * And the same check, on the same answers, refuses each one altered.
 *
 * Node only (skipped in the Chromium run of test/models): the relay's pool
 * runs worker threads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSplitMix64 } from '#core/generation/prng.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { loadPipelineModels, releasePipelineModels } from '#core/models/load-models.ts';
import type { PipelineModels } from '#core/models/pipeline.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput, type TextGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { encodeTextResult, type TextGenerationResult } from '#core/pipelines/text-generation/result.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import { inBrowser, loadCatalogue } from '#test/models.ts';

const TASKS = 200;
/** Checks in flight on the pool at once (its queue holds 64). */
const BATCH = 16;
const REFERENCES = [
  'John 3:16',
  'Genesis 1:1',
  'Psalms 23:1',
  'Proverbs 3:5',
  'Matthew 5:9',
  'Romans 8:28',
  'Exodus 20:3',
];

interface Answered {
  readonly input: TextGenerationInput;
  readonly bytes: Uint8Array;
  readonly answer: TextGenerationResult;
}

/** The 200 tasks, from a seeded generator so a failure can be replayed. */
function sampledTasks(): TextGenerationInput[] {
  const prng = createSplitMix64(20_261_212);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(prng.nextFloat() * items.length)] as T;
  return Array.from({ length: TASKS }, (_, i) => {
    const reference = pick(REFERENCES);
    // Every eighth task is greedy; the rest are sampled across the whole range of temperatures.
    const temperature = i % 8 === 0 ? 0 : Math.round((0.05 + prng.nextFloat() * 1.15) * 100) / 100;
    return textGenerationInput({
      ...(i % 2 === 0 ? { prompt: `${reference} ` } : { messages: [{ role: 'user', content: reference }] }),
      maxPieces: 16 + Math.floor(prng.nextFloat() * 25),
      temperature,
      topK: pick([0, 0, 5, 20, 40, 100]),
      topP: pick([1, 1, 0.95, 0.9, 0.8, 0.5]),
      seed: Number(prng.nextUint64() >> 12n),
      stop: i % 5 === 0 ? [pick([' and', ',', ' the', ':'])] : [],
    });
  });
}

describe.runIf(!inBrowser)('the forced-pass check across backends', () => {
  let catalogue: Catalogue;
  let entry: ModelEntry;
  let pool: InferencePool;
  let wasm: PipelineModels;
  const answered: Answered[] = [];

  beforeAll(async () => {
    catalogue = await loadCatalogue();
    const found = catalogue.models.find((m) => m.kind === 'text-generation');
    if (found === undefined) throw new Error('no text-generation model in dist/models: run npm run models');
    entry = found;
    // Loaded by path at run time, so the Chromium run of test/models never bundles the pool.
    const poolModule = '../../relay/node/pool/inference-pool.ts';
    const { createInferencePool } = (await import(
      /* @vite-ignore */ poolModule
    )) as typeof import('#node/pool/inference-pool.ts');
    pool = createInferencePool({ modelsDir: 'dist/models', catalogue: () => Promise.resolve(catalogue) });
    const { createOrtWebRuntime } = await import('#web/inference/ort-web-runtime.ts');
    const { readFile } = await import('node:fs/promises');
    [wasm] = await Promise.all([
      loadPipelineModels(
        await createOrtWebRuntime(),
        entry,
        textGenerationPipeline,
        async (hash) => new Uint8Array(await readFile(`dist/models/${hash}`)),
      ),
      pool.start(),
    ]);
    for (const input of sampledTasks()) {
      const answer = await textGenerationPipeline.run(wasm, input);
      answered.push({ input, bytes: textGenerationPipeline.encodeInput(input), answer });
    }
  }, 120_000);

  afterAll(async () => {
    await releasePipelineModels(wasm);
    await pool.stop();
  });

  /** The native pool's verdict on each claim, a batch at a time. */
  async function verdicts(claims: readonly { input: Uint8Array; output: Uint8Array }[]) {
    const all = [];
    for (let i = 0; i < claims.length; i += BATCH) {
      const batch = claims.slice(i, i + BATCH).map((c) => pool.check(entry.id, c.input, c.output));
      all.push(...(await Promise.all(batch)).map((r) => r.verdict));
    }
    return all;
  }

  it('accepts every honest WASM answer on the native pool', async () => {
    // The tasks really are varied: sampled and greedy, ended by each of the three ways.
    expect(answered.filter((a) => a.input.temperature > 0).length).toBeGreaterThan(150);
    const finishes = new Set(answered.map((a) => a.answer.finish));
    expect(finishes).toContain('length');
    expect(finishes).toContain('stop');
    const found = await verdicts(answered.map((a) => ({ input: a.bytes, output: encodeTextResult(a.answer) })));
    const refused = found.flatMap((v, i) => (v.ok ? [] : [{ i, verdict: v, input: answered[i]?.input }]));
    expect(refused).toEqual([]);
  });

  it('refuses the same answers with one piece changed', async () => {
    const altered = answered
      .filter((a) => a.answer.pieces.length > 2)
      .slice(0, 40)
      .map((a) => {
        const at = Math.floor(a.answer.pieces.length / 2);
        const pieces = a.answer.pieces.map((p, i) => (i === at ? (p === 101 ? 97 : 101) : p));
        const text = new TextDecoder().decode(Uint8Array.from(pieces.filter((p) => p < 256)));
        return { input: a.bytes, output: encodeTextResult({ ...a.answer, pieces, text }) };
      });
    expect(altered.length).toBe(40);
    const found = await verdicts(altered);
    // A swapped piece can be one the sampler might also have drawn; at a high temperature that happens.
    expect(found.filter((v) => !v.ok).length).toBeGreaterThan(30);
  });
});
