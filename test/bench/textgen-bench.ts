/**
 * Text-generation measurements shared by the Node and browser runners, all
 * through the core's one generation loop and forced-pass checker (no
 * runtime-specific shortcut): prefill speed, time to first piece, decode
 * speed, and the cost of checking a generation against generating it.
 */
import { checkGeneration } from '#core/generation/check-generation.ts';
import { generate, stepFeeds, type Generation, type LanguageModel } from '#core/generation/generate.ts';
import { GREEDY } from '#core/generation/sampler.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import type { Hash } from '#core/identity/ids.ts';

/** Which model to measure and how: everything the Node and browser runners must agree on. */
export interface TextgenModelSpec {
  /** As printed. */
  readonly label: string;
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly contextLength: number;
  /** A prompt of `prefillPieces` pieces, run as one prefill to time it. */
  readonly prefillPrompt: readonly number[];
  /** The prompt generation starts from (time to first piece, decode, check). */
  readonly shortPrompt: readonly number[];
  /** Pieces generated, then checked in one forced pass. */
  readonly generatePieces: number;
  /** Repetitions of the prefill and first-piece timings (the median is kept). */
  readonly repeats: number;
}

export interface TextgenBenchRow {
  readonly model: string;
  readonly runtime: string;
  readonly threads: number;
  readonly loadMs: number;
  readonly prefillPieces: number;
  readonly prefillPiecesPerSec: number;
  /** From calling the generation loop to its first piece (prefill of the short prompt and one pick). */
  readonly firstPieceMs: number;
  readonly decodePiecesPerSec: number;
  readonly generatedPieces: number;
  /** The whole generation of `generatedPieces`: prefill and every decode step. */
  readonly generateMs: number;
  /** One forced pass over the prompt and the generated pieces. */
  readonly checkMs: number;
  /** The checker accepted the generation (cached decode and forced pass agree). */
  readonly checkOk: boolean;
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/**
 * Loads `bytes` as a language model; `loadMs` is the runtime's load, which
 * checks the bytes against their hash (in JS) and builds the session.
 * End-of-sequence is ignored, so every run makes the same number of pieces.
 */
export async function loadBenchModel(
  runtime: InferenceRuntime,
  bytes: Uint8Array,
  spec: TextgenModelSpec,
): Promise<{ model: LanguageModel; loadMs: number }> {
  // The expected hash by WebCrypto (native in Node and the browser), outside the timing.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  const hash = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') as Hash;
  const started = performance.now();
  const session = await runtime.load(bytes, hash);
  const model: LanguageModel = {
    session,
    cache: { layers: spec.layers, kvHeads: spec.kvHeads, headDim: spec.headDim },
    contextLength: spec.contextLength,
    eosTokens: [],
    tokenBytes: (token) => Uint8Array.of(32 + (token % 95)),
  };
  return { model, loadMs: performance.now() - started };
}

export async function benchTextModel(
  model: LanguageModel,
  spec: TextgenModelSpec,
  meta: { runtime: string; threads: number; loadMs: number },
): Promise<TextgenBenchRow> {
  const request = (maxTokens: number) => ({ prompt: spec.shortPrompt, maxTokens, sampling: GREEDY, seed: 1 });

  // Warm-up: the first runs of a session allocate and pick kernels.
  await model.session.run(stepFeeds(model, spec.prefillPrompt, 0, undefined));
  await drain(generate(model, request(4)));

  const prefill: number[] = [];
  for (let i = 0; i < spec.repeats; i++) {
    const t0 = performance.now();
    await model.session.run(stepFeeds(model, spec.prefillPrompt, 0, undefined));
    prefill.push(performance.now() - t0);
  }

  const firstPiece: number[] = [];
  for (let i = 0; i < spec.repeats; i++) {
    const t0 = performance.now();
    const run = generate(model, request(1));
    await run.next();
    firstPiece.push(performance.now() - t0);
    await drain(run);
  }

  // One long generation gives the decode speed (from its first piece to its last) and the generation to check.
  const t0 = performance.now();
  const run = generate(model, request(spec.generatePieces));
  let firstAt = 0;
  let generation: Generation | undefined;
  for (;;) {
    const next = await run.next();
    if (next.done) {
      generation = next.value;
      break;
    }
    if (next.value.index === 0) firstAt = performance.now();
  }
  const endAt = performance.now();
  const pieces = generation.tokens.length;

  const checks: number[] = [];
  let checkOk = true;
  for (let i = 0; i < 2; i++) {
    const c0 = performance.now();
    const verdict = await checkGeneration(model, request(spec.generatePieces), generation);
    checks.push(performance.now() - c0);
    checkOk &&= verdict.ok;
  }

  return {
    model: spec.label,
    runtime: meta.runtime,
    threads: meta.threads,
    loadMs: meta.loadMs,
    prefillPieces: spec.prefillPrompt.length,
    prefillPiecesPerSec: (spec.prefillPrompt.length * 1000) / median(prefill),
    firstPieceMs: median(firstPiece),
    decodePiecesPerSec: ((pieces - 1) * 1000) / (endAt - firstAt),
    generatedPieces: pieces,
    generateMs: endAt - t0,
    checkMs: Math.min(...checks),
    checkOk,
  };
}

async function drain(run: AsyncGenerator<unknown, unknown, undefined>): Promise<void> {
  for (;;) if ((await run.next()).done) return;
}

/** Both runners at this many threads: onnxruntime-node intra-op threads, onnxruntime-web WASM threads. */
export const TEXTGEN_THREADS = 1;

/**
 * Layers of the Qwen2.5-0.5B-shaped model: its real widths, but 2 of its 24
 * layers. All 24 are 2 GB in float32, past what one ONNX file (protobuf, 2 GB)
 * can hold without external data and too slow to time on two shared cores in
 * a couple of minutes; the embedding and tied head (136M of the 166M
 * parameters here) are whole, so the per-piece head cost is the real one.
 */
export const QWEN_BENCH_LAYERS = 2;
export const QWEN_BENCH_FILE = `dist/bench/random-qwen2.5-0.5b-shape-${QWEN_BENCH_LAYERS}-layers.onnx`;

export interface ShippedConfig {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly context: number;
  readonly bos: number;
}

export const SHIPPED_FILE = 'relay/node/models/artifacts/kjv-byte-lm.onnx';
export const SHIPPED_REPORT = 'relay/node/models/artifacts/kjv-byte-lm.json';

/** What a runner needs to fetch and measure one model. */
export interface TextgenBenchTarget {
  /** Path from the repository root (the browser fetches it from the dev server's root). */
  readonly file: string;
  readonly spec: TextgenModelSpec;
}

const bytesOf = (text: string) => [...new TextEncoder().encode(text)];

/** The shipped model: a 64-piece prompt, then 'John 3:16 ' continued to the end of its 256-piece context. */
export function shippedTarget(config: ShippedConfig): TextgenBenchTarget {
  const verse = 'In the beginning God created the heaven and the earth. And the e';
  const shortPrompt = [config.bos, ...bytesOf('John 3:16 ')];
  return {
    file: SHIPPED_FILE,
    spec: {
      label: 'kjv-byte-lm (shipped, 1.6M)',
      layers: config.layers,
      kvHeads: config.kvHeads,
      headDim: config.headDim,
      contextLength: config.context,
      prefillPrompt: [config.bos, ...bytesOf(verse)].slice(0, 64),
      shortPrompt,
      // The context ends generation before 256: 256 - 11 prompt pieces.
      generatePieces: config.context - shortPrompt.length,
      repeats: 7,
    },
  };
}

/** The Qwen2.5-0.5B-shaped model: a 64-piece prompt, and 256 pieces generated from a 16-piece one. */
export function qwenTarget(): TextgenBenchTarget {
  const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => (from + i * 7919) % 151936);
  return {
    file: QWEN_BENCH_FILE,
    spec: {
      label: `Qwen2.5-0.5B shapes, ${QWEN_BENCH_LAYERS} of 24 layers (random, 166M)`,
      layers: QWEN_BENCH_LAYERS,
      kvHeads: 2,
      headDim: 64,
      contextLength: 32768,
      prefillPrompt: ids(64, 1000),
      shortPrompt: ids(16, 5000),
      generatePieces: 256,
      repeats: 3,
    },
  };
}
