/**
 * Language identification (lande t50 as ONNX, computed in float32): on every
 * runtime of the platform the pipeline labels every fixture sentence correctly
 * and agrees with the stored reference (lande's own output) by the catalogue's
 * tolerance (top label) and within float32 drift in probability; in Node the
 * features and all 50 probabilities are also compared with the lande library
 * itself.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import type { ModelEntry, Tolerance } from '#core/models/catalogue.ts';
import type { PipelineModels } from '#core/models/pipeline.ts';
import type { InferenceRuntime, ModelSession } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import {
  LANGUAGE_ID_FEATURES,
  LANGUAGE_ID_INPUT,
  LANGUAGE_ID_LABELS,
  LANGUAGE_ID_MAX_INPUT_BYTES,
  LANGUAGE_ID_OUTPUT,
  languageIdFeatures,
  languageIdPipeline,
  type LanguageIdResult,
  rankLanguages,
} from '#core/pipelines/language-id/index.ts';
import { inBrowser, modelFile, modelOfKind, platformRuntimes } from '#test/models.ts';
import fixture from './fixtures/language-id.json';

const pipeline = languageIdPipeline;
const sentences = fixture.sentences as readonly {
  readonly label: string;
  readonly text: string;
  readonly reference: LanguageIdResult;
}[];
/**
 * How closely the float32 graph reproduces lande's probabilities (toygrad sums
 * in float64). Measured on all 61 fixture texts (sentences and probes): at
 * most 6.2e-5 in onnxruntime-node and 4.1e-5 in onnxruntime-web (WASM). The
 * model builder's self-check against lande uses the same bound.
 */
const PROBABILITY_TOLERANCE = { measure: 'max-abs', value: 1e-4 } as const satisfies Tolerance;

const modelsOf = (main: ModelSession): PipelineModels => ({ main, sessions: {}, files: {} });

/** Runs a task end to end as a worker would: input bytes in, canonical output bytes out. */
async function runTask(models: PipelineModels, text: string): Promise<Uint8Array> {
  const input = pipeline.decodeInput(pipeline.encodeInput(text));
  if (!input.ok) throw input.error;
  return pipeline.encodeOutput(await pipeline.run(models, input.value));
}

let entry: ModelEntry;
let bytes: Uint8Array;
let runtimes: InferenceRuntime[];

beforeAll(async () => {
  entry = await modelOfKind('language-id');
  bytes = await modelFile(entry.id);
  runtimes = await platformRuntimes();
});

describe('language-id catalogue entry', () => {
  it('describes a phone-sized MIT model with top-1 tolerance', () => {
    expect(entry.sizeClass).toBe('phone');
    expect(entry.tolerance).toEqual({ measure: 'top1' });
    expect(entry.license.spdx).toBe('MIT');
    expect(entry.pre).toBe(pipeline.name);
    expect(entry.inputs).toEqual([
      { name: LANGUAGE_ID_INPUT, type: 'float32', shape: ['batch', LANGUAGE_ID_FEATURES] },
    ]);
    expect(entry.outputs).toEqual([
      { name: LANGUAGE_ID_OUTPUT, type: 'float32', shape: ['batch', LANGUAGE_ID_LABELS.length] },
    ]);
  });

  it('covers at least ten languages in the fixture', () => {
    expect(new Set(sentences.map((s) => s.label)).size).toBeGreaterThanOrEqual(10);
  });
});

describe('language-id pipeline on every platform runtime', () => {
  it('labels every sentence correctly and agrees with the stored reference', async () => {
    for (const runtime of runtimes) {
      const session = await runtime.load(bytes, entry.id);
      try {
        const models = modelsOf(session);
        for (const sentence of sentences) {
          const decoded = pipeline.decodeOutput(await runTask(models, sentence.text));
          if (!decoded.ok) throw decoded.error;
          const result = decoded.value;
          const where = `${runtime.name}: ${sentence.label} ${sentence.text}`;
          expect(result.label, where).toBe(sentence.label);
          expect(result.top).toHaveLength(5);
          expect(pipeline.agree(result, sentence.reference, entry.tolerance), where).toBe(true);
          expect(pipeline.agree(result, sentence.reference, PROBABILITY_TOLERANCE), where).toBe(true);
        }
        // Latency once warm: one pass over the sentences, features and post-processing included.
        const started = performance.now();
        for (const sentence of sentences) await pipeline.run(models, sentence.text);
        const perItem = (performance.now() - started) / sentences.length;
        console.info(`language-id ${runtime.name}: ${perItem.toFixed(3)} ms per text`);
      } finally {
        await session.release();
      }
    }
  });

  it('takes a batch of feature rows', async () => {
    const texts = sentences.slice(0, 4).map((s) => s.text);
    const batch = new Float32Array(texts.length * LANGUAGE_ID_FEATURES);
    texts.forEach((text, i) => {
      batch.set(languageIdFeatures(text), i * LANGUAGE_ID_FEATURES);
    });
    for (const runtime of runtimes) {
      const session = await runtime.load(bytes, entry.id);
      try {
        const out = await session.run({
          [LANGUAGE_ID_INPUT]: float32Tensor(batch, [texts.length, LANGUAGE_ID_FEATURES]),
        });
        const probabilities = out[LANGUAGE_ID_OUTPUT];
        expect(probabilities?.dims).toEqual([texts.length, LANGUAGE_ID_LABELS.length]);
        const data = probabilities?.data as Float32Array;
        for (let i = 0; i < texts.length; i++) {
          const row = data.subarray(i * LANGUAGE_ID_LABELS.length, (i + 1) * LANGUAGE_ID_LABELS.length);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          expect(LANGUAGE_ID_LABELS[row.indexOf(Math.max(...row))]).toBe(sentences[i]?.label);
        }
      } finally {
        await session.release();
      }
    }
  });
});

describe('language-id pipeline input and output', () => {
  it('refuses empty, oversized and non-UTF-8 input', () => {
    expect(pipeline.decodeInput(new Uint8Array()).ok).toBe(false);
    expect(pipeline.decodeInput(new Uint8Array(LANGUAGE_ID_MAX_INPUT_BYTES + 1).fill(0x61)).ok).toBe(false);
    expect(pipeline.decodeInput(new Uint8Array([0x61, 0xff, 0x62])).ok).toBe(false);
    const max = pipeline.decodeInput(new Uint8Array(LANGUAGE_ID_MAX_INPUT_BYTES).fill(0x61));
    expect(max.ok && max.value.length).toBe(LANGUAGE_ID_MAX_INPUT_BYTES);
  });

  it('round-trips input bytes exactly, byte order mark included', () => {
    const bytes = new TextEncoder().encode('\uFEFFHallo wêreld');
    const decoded = pipeline.decodeInput(bytes);
    expect(decoded.ok && pipeline.encodeInput(decoded.value)).toEqual(bytes);
    expect(pipeline.units('any text')).toBe(1);
  });

  it('encodes results canonically and refuses malformed ones', () => {
    const reference = sentences[0]?.reference as LanguageIdResult;
    const encoded = pipeline.encodeOutput(reference);
    const decoded = pipeline.decodeOutput(encoded);
    expect(decoded.ok && decoded.value).toEqual(reference);
    expect(decoded.ok && pipeline.encodeOutput(decoded.value)).toEqual(encoded);
    const bad: unknown[] = [
      { ...reference, label: 'xxx' },
      { ...reference, confidence: 0.5 },
      { ...reference, top: [] },
      { ...reference, top: [...reference.top].reverse() },
      { ...reference, top: [reference.top[0], reference.top[0]] },
      { ...reference, extra: 1 },
    ];
    for (const value of bad) {
      expect(pipeline.decodeOutput(encodeCanonical(value)).ok).toBe(false);
    }
    expect(pipeline.decodeOutput(new Uint8Array([0xff])).ok).toBe(false);
  });

  it('compares results by top label, by probabilities or exactly', () => {
    const a = sentences[0]?.reference as LanguageIdResult;
    const b = {
      ...a,
      confidence: a.confidence - 1e-4,
      top: a.top.map((c, i) => (i === 0 ? { ...c, p: c.p - 1e-4 } : c)),
    };
    const other = sentences[1]?.reference as LanguageIdResult;
    expect(pipeline.agree(a, b, { measure: 'top1' })).toBe(true);
    expect(pipeline.agree(a, other, { measure: 'top1' })).toBe(false);
    expect(pipeline.agree(a, b, { measure: 'max-abs', value: 1e-3 })).toBe(true);
    expect(pipeline.agree(a, b, { measure: 'max-abs', value: 1e-5 })).toBe(false);
    expect(pipeline.agree(a, a, { measure: 'text' })).toBe(true);
    expect(pipeline.agree(a, b, { measure: 'text' })).toBe(false);
  });
});

describe.skipIf(inBrowser)('language-id against the lande library (Node)', () => {
  type Lande = (text: string) => [string, number][];
  type Infer = (text: string, langs: unknown, ngrams: unknown, nn: unknown) => [string, number][];
  let lande: Lande;
  /** lande's own feature vector for a text, caught at the input of its network. */
  let landeFeatures: (text: string) => Float32Array;

  beforeAll(async () => {
    // lande's `exports` map hides its standalone files, so import them by URL next to its entry point.
    const { createRequire } = await import('node:module');
    const { pathToFileURL } = await import('node:url');
    const main = pathToFileURL(createRequire(import.meta.url).resolve('lande'));
    const load = async <T>(file: string): Promise<T> =>
      ((await import(/* @vite-ignore */ new URL(file, main).href)) as { default: T }).default;
    lande = await load<Lande>('./t50.js');
    const { infer } = (await import(/* @vite-ignore */ new URL('./utils.js', main).href)) as { infer: Infer };
    const langs = await load<unknown>('./t50-langs.js');
    const ngrams = await load<unknown>('./t50-ngrams.js');
    landeFeatures = (text) => {
      let caught = new Float32Array();
      const nn = {
        forward: (input: { w: Float32Array }) => {
          caught = input.w.slice();
          return { w: new Float32Array(LANGUAGE_ID_LABELS.length) };
        },
      };
      infer(text, langs, ngrams, nn);
      return caught;
    };
  });

  const texts = (): string[] => [...sentences.map((s) => s.text), ...fixture.probes];

  it('computes exactly lande’s features', () => {
    for (const text of texts()) {
      expect(languageIdFeatures(text), text).toEqual(landeFeatures(text));
    }
  });

  it('labels every text as lande does and reproduces its probabilities within float32 drift on every runtime', async () => {
    const batch = new Float32Array(texts().length * LANGUAGE_ID_FEATURES);
    texts().forEach((text, i) => {
      batch.set(languageIdFeatures(text), i * LANGUAGE_ID_FEATURES);
    });
    const L = LANGUAGE_ID_LABELS.length;
    for (const runtime of runtimes) {
      const session = await runtime.load(bytes, entry.id);
      try {
        const out = await session.run({
          [LANGUAGE_ID_INPUT]: float32Tensor(batch, [texts().length, LANGUAGE_ID_FEATURES]),
        });
        const data = out[LANGUAGE_ID_OUTPUT]?.data as Float32Array;
        let maxDiff = 0;
        texts().forEach((text, i) => {
          const row = data.subarray(i * L, (i + 1) * L);
          expect(rankLanguages(row)[0]?.label, `${runtime.name}: ${text}`).toBe(lande(text)[0]?.[0]);
          for (const [label, p] of lande(text)) {
            const ours = data[i * L + LANGUAGE_ID_LABELS.indexOf(label as (typeof LANGUAGE_ID_LABELS)[number])];
            maxDiff = Math.max(maxDiff, Math.abs((ours ?? NaN) - p));
          }
        });
        console.info(`language-id ${runtime.name}: max |p - lande| ${maxDiff.toExponential(2)}`);
        expect(maxDiff, runtime.name).toBeLessThanOrEqual(PROBABILITY_TOLERANCE.value);
      } finally {
        await session.release();
      }
    }
  });

  it('matches lande’s top label through the pipeline, with lande’s tie order', async () => {
    const session = await (runtimes[0] as InferenceRuntime).load(bytes, entry.id);
    try {
      for (const text of texts()) {
        const ours = await pipeline.run(modelsOf(session), text);
        const theirs = lande(text)
          .slice(0, 5)
          .map(([label, p]) => ({ label, p }));
        const reference = { label: theirs[0]?.label, confidence: theirs[0]?.p, top: theirs } as LanguageIdResult;
        expect(pipeline.agree(ours, reference, entry.tolerance), text).toBe(true);
        expect(pipeline.agree(ours, reference, PROBABILITY_TOLERANCE), text).toBe(true);
      }
    } finally {
      await session.release();
    }
  });
});
