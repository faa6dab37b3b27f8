/**
 * The one generation loop, for every runtime: a causal language model behind
 * the runtime-neutral {@link ModelSession}, with the input and output names
 * of the onnx-community exports (`input_ids`, `attention_mask`,
 * `position_ids`, `past_key_values.N.key|value` -> `logits`,
 * `present.N.key|value`), so the shipped model and real exports run the same
 * way. Prefill runs the prompt once; each decode step feeds one token and the
 * key/value cache the previous step returned.
 *
 * The loop yields each token with the text it completes (UTF-8 safe, stop
 * strings held back: ./text-stream.ts), and ends on an end-of-sequence
 * token, a stop string, `maxTokens` or the end of the context. Aborting the
 * signal stops it before the next step, rejecting with the signal's reason;
 * what was yielded by then is what was delivered.
 */
import type { ModelSession } from '../models/runtime.ts';
import type { Tensor } from '../models/tensor.ts';
import { InvalidPromptError, ModelOutputError } from './errors.ts';
import { createSplitMix64 } from './prng.ts';
import { checkSamplingParams, sampleToken, type SamplingParams } from './sampler.ts';
import { createTextStream } from './text-stream.ts';

/** The shape of a model's key/value cache. */
export interface KvCacheLayout {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** A causal language model ready to run: its session and what the loop must know of it. */
export interface LanguageModel {
  readonly session: ModelSession;
  readonly cache: KvCacheLayout;
  /** Prompt and generated tokens together may not exceed this. */
  readonly contextLength: number;
  /** Tokens that end a generation (not shown as text). */
  readonly eosTokens: readonly number[];
  /** The bytes a token stands for (empty for special tokens). */
  tokenBytes(token: number): Uint8Array;
}

export interface GenerateRequest {
  /** The prompt as tokens, chat template applied. */
  readonly prompt: readonly number[];
  /** At most this many tokens are generated (the end-of-sequence token counts). */
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  /** Seeds the sampler's PRNG (./prng.ts); with the rest of the request it fixes the answer. */
  readonly seed: bigint | number;
  /** Strings that end the generation where they appear; they are not part of the text. */
  readonly stop?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface GeneratedToken {
  /** 0 for the first generated token. */
  readonly index: number;
  readonly token: number;
  /** The text this token makes final ('' while a character or a possible stop string is incomplete). */
  readonly text: string;
}

export type FinishReason = 'stop' | 'length';

export interface Generation {
  /** The generated tokens, the end-of-sequence token included when one ended it. */
  readonly tokens: readonly number[];
  readonly text: string;
  /** `stop`: end-of-sequence or a stop string; `length`: `maxTokens` or the context ran out. */
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
}

const int64 = (values: readonly number[]): Tensor<'int64'> => ({
  type: 'int64',
  data: BigInt64Array.from(values, (v) => BigInt(v)),
  dims: [1, values.length],
});

/** The feeds of one step: `tokens` at `start`, over a cache of `start` positions (none when `past` is undefined). */
export function stepFeeds(
  model: LanguageModel,
  tokens: readonly number[],
  start: number,
  past: readonly Tensor[] | undefined,
): Record<string, Tensor> {
  const { layers, kvHeads, headDim } = model.cache;
  const out: Record<string, Tensor> = {
    input_ids: int64(tokens),
    attention_mask: int64(new Array<number>(start + tokens.length).fill(1)),
  };
  if (model.session.inputNames.includes('position_ids')) {
    out.position_ids = int64(tokens.map((_, i) => start + i));
  }
  for (let layer = 0; layer < layers; layer++) {
    for (const [slot, kind] of ['key', 'value'].entries()) {
      out[`past_key_values.${layer}.${kind}`] = past?.[2 * layer + slot] ?? {
        type: 'float32',
        data: new Float32Array(0),
        dims: [1, kvHeads, 0, headDim],
      };
    }
  }
  return out;
}

/** Logits of every position of one step's output, as rows of `vocab` floats. */
export function logitRows(outputs: Record<string, Tensor>, positions: number): Float32Array[] {
  const logits = outputs.logits;
  if (logits?.type !== 'float32' || logits.dims.length !== 3 || logits.dims[1] !== positions) {
    throw new ModelOutputError(`expected float32 logits [1, ${positions}, vocab], got ${JSON.stringify(logits?.dims)}`);
  }
  const vocab = logits.dims[2] as number;
  const data = logits.data as Float32Array;
  return Array.from({ length: positions }, (_, i) => data.subarray(i * vocab, (i + 1) * vocab));
}

function presents(model: LanguageModel, outputs: Record<string, Tensor>): Tensor[] {
  const out: Tensor[] = [];
  for (let layer = 0; layer < model.cache.layers; layer++) {
    for (const kind of ['key', 'value']) {
      const tensor = outputs[`present.${layer}.${kind}`];
      if (tensor?.type !== 'float32') throw new ModelOutputError(`the model gave no float32 present.${layer}.${kind}`);
      out.push(tensor);
    }
  }
  return out;
}

/** Checks a request against the model before anything runs; throws a typed error. */
export function checkGenerateRequest(model: LanguageModel, request: GenerateRequest): void {
  checkSamplingParams(request.sampling);
  if (request.prompt.length === 0) throw new InvalidPromptError('the prompt is empty');
  if (request.prompt.length >= model.contextLength) {
    throw new InvalidPromptError(
      `the prompt is ${request.prompt.length} tokens; this model reads at most ${model.contextLength - 1} before answering`,
    );
  }
  if (!Number.isSafeInteger(request.maxTokens) || request.maxTokens < 1) {
    throw new InvalidPromptError(`max tokens must be a whole number ≥ 1, not ${request.maxTokens}`);
  }
}

/**
 * Generates from `request.prompt`, yielding each token as it is made, and
 * returns the whole {@link Generation} when done.
 */
export async function* generate(
  model: LanguageModel,
  request: GenerateRequest,
): AsyncGenerator<GeneratedToken, Generation, undefined> {
  checkGenerateRequest(model, request);
  const { signal } = request;
  const limit = Math.min(request.maxTokens, model.contextLength - request.prompt.length);
  const prng = createSplitMix64(request.seed);
  const text = createTextStream(request.stop);
  const tokens: number[] = [];
  let pieces = '';
  let past: Tensor[] | undefined;
  let step: readonly number[] = request.prompt;
  let finishReason: FinishReason = 'length';
  while (tokens.length < limit) {
    signal?.throwIfAborted();
    // Prefill starts at 0; a decode step feeds the last token, at its position after the prompt.
    const start = past === undefined ? 0 : request.prompt.length + tokens.length - 1;
    const outputs = await model.session.run(stepFeeds(model, step, start, past), signal ? { signal } : {});
    const rows = logitRows(outputs, step.length);
    past = presents(model, outputs);
    const token = sampleToken(rows[rows.length - 1] as Float32Array, request.sampling, prng.nextFloat());
    tokens.push(token);
    if (model.eosTokens.includes(token)) {
      const rest = text.flush();
      pieces += rest;
      yield { index: tokens.length - 1, token, text: rest };
      finishReason = 'stop';
      break;
    }
    let piece = text.push(model.tokenBytes(token));
    // The last token also carries whatever the stream still held back.
    if (!text.stopped && tokens.length === limit) piece += text.flush();
    pieces += piece;
    yield { index: tokens.length - 1, token, text: piece };
    if (text.stopped) {
      finishReason = 'stop';
      break;
    }
    step = [token];
  }
  return { tokens, text: pieces, finishReason, promptTokens: request.prompt.length };
}
