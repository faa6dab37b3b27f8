/**
 * The shipped text-generation model (trained by relay/model-tools/text-model/)
 * in every runtime of this platform: onnxruntime-node and onnxruntime-web
 * WASM in Node, onnxruntime-web WASM in Chromium. Each must give the greedy
 * tokens torch gave when the model was trained (recorded in its report),
 * through the core's one generation loop with its key/value cache; the
 * forced-pass checker must accept each runtime's answers on every other.
 */
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { checkGeneration } from '#core/generation/check-generation.ts';
import { generate, logitRows, stepFeeds, type Generation, type LanguageModel } from '#core/generation/generate.ts';
import { GREEDY, sampleToken, type SamplingParams } from '#core/generation/sampler.ts';
import type { Hash } from '#core/identity/ids.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import { inBrowser, platformRuntimes } from '#test/models.ts';
import report from '#node/models/artifacts/kjv-byte-lm.json';

const ARTIFACT = 'relay/node/models/artifacts/kjv-byte-lm.onnx';

async function modelBytes(): Promise<Uint8Array> {
  if (inBrowser) {
    const response = await fetch(`/${ARTIFACT}`);
    if (!response.ok) throw new Error(`GET /${ARTIFACT}: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  const { readFile } = await import('node:fs/promises');
  return new Uint8Array(await readFile(ARTIFACT));
}

async function load(runtime: InferenceRuntime, bytes: Uint8Array): Promise<LanguageModel> {
  const { config } = report;
  return {
    session: await runtime.load(bytes, sha256Hex(bytes) as Hash),
    cache: { layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim },
    contextLength: config.context,
    eosTokens: [config.eos],
    tokenBytes: (token) => (token < 256 ? Uint8Array.of(token) : new Uint8Array(0)),
  };
}

const promptOf = (text: string): number[] => [report.config.bos, ...new TextEncoder().encode(text)];

async function complete(model: LanguageModel, prompt: number[], maxTokens: number, sampling: SamplingParams, seed = 1) {
  const run = generate(model, { prompt, maxTokens, sampling, seed });
  for (;;) {
    const next = await run.next();
    if (next.done) return next.value;
  }
}

describe('the shipped text-generation model', () => {
  it('gives torch’s greedy tokens in every runtime, through the generation loop and its cache', async () => {
    const bytes = await modelBytes();
    for (const runtime of await platformRuntimes()) {
      const model = await load(runtime, bytes);
      for (const sample of report.samples) {
        const result = await complete(model, promptOf(sample.prompt), 120, GREEDY);
        expect(result.tokens, `${runtime.name}: ${sample.prompt}`).toEqual(sample.greedyTokens);
      }
      await model.session.release();
    }
  });

  it('writes KJV-like English and ends a verse with end-of-sequence', () => {
    for (const sample of report.samples) expect(sample.text).toMatch(/^[A-Za-z ,;:.'!?()-]+$/);
    // Greedy decoding of a model this small often loops, so not every sample reaches the end of its verse.
    expect(report.samples.some((s) => s.greedyTokens.at(-1) === report.config.eos)).toBe(true);
    // Better than a uniform guess over bytes (8 bits) by far: the report's own validation figure.
    expect(report.validationBitsPerByte).toBeLessThan(2.5);
  });

  it('answers the same sampled text for a seed, and each runtime’s answer passes the forced-pass check on every other', async () => {
    const bytes = await modelBytes();
    const models = await Promise.all((await platformRuntimes()).map((runtime) => load(runtime, bytes)));
    const sampling: SamplingParams = { temperature: 0.8, topK: 40, topP: 0.95 };
    const prompt = promptOf('Proverbs 3:5 ');
    const answers: Generation[] = [];
    for (const model of models) answers.push(await complete(model, prompt, 48, sampling, 2026));
    for (const answer of answers) expect(answer.tokens).toEqual(answers[0]?.tokens);
    for (const model of models) {
      for (const answer of answers) {
        expect(await checkGeneration(model, { prompt, maxTokens: 48, sampling, seed: 2026 }, answer)).toEqual({
          ok: true,
        });
      }
      // Another seed's answer is not this seed's.
      const other = await complete(model, prompt, 48, sampling, 7);
      if (other.tokens.join() !== answers[0]?.tokens.join()) {
        expect(await checkGeneration(model, { prompt, maxTokens: 48, sampling, seed: 2026 }, other)).toMatchObject({
          ok: false,
        });
      }
    }
    await Promise.all(models.map((m) => m.session.release()));
  });

  it('gives the same pieces with the key/value cache as re-reading the whole sequence at every step', async () => {
    const bytes = await modelBytes();
    const [runtime] = await platformRuntimes();
    if (runtime === undefined) throw new Error('no runtime on this platform');
    const model = await load(runtime, bytes);
    const prompt = promptOf('Psalms 23:1 ');
    const cached = await complete(model, prompt, 40, GREEDY);
    // Without the cache: every step feeds prompt + pieces so far from position 0 and takes the last row's best logit.
    const sequence = [...prompt];
    const uncached: number[] = [];
    while (uncached.length < cached.tokens.length) {
      const rows = logitRows(await model.session.run(stepFeeds(model, sequence, 0, undefined)), sequence.length);
      const token = sampleToken(rows[rows.length - 1] as Float32Array, GREEDY, 0);
      uncached.push(token);
      sequence.push(token);
    }
    expect(uncached).toEqual(cached.tokens);
    await model.session.release();
  });
});
