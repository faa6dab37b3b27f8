/**
 * A language model small enough to reason about, behind the real
 * ModelSession interface and the onnx-community names: its key/value cache
 * holds the token ids seen so far, and its logits for the next token are a
 * fixed function of that whole history. A loop that feeds the wrong cache,
 * positions or mask gets other tokens than a loop that re-reads everything.
 */
import type { LanguageModel } from '#core/generation/generate.ts';
import type { ModelSession } from '#core/models/runtime.ts';
import type { Tensor } from '#core/models/tensor.ts';

export const VOCAB = 258;
export const EOS = 257;

/** Logits for the token after `history`: a peak at a token that depends on all of it, a second one nearby. */
export function logitsAfter(history: readonly number[], eosAfter = Infinity): Float32Array {
  const logits = new Float32Array(VOCAB).fill(-10);
  let h = 7;
  for (const [i, t] of history.entries()) h = (h * 31 + t * (i + 3)) % 9973;
  const target = history.length >= eosAfter ? EOS : 97 + (h % 26); // a lowercase letter
  logits[target] = 4;
  logits[97 + ((h + 1) % 26)] = 3;
  return logits;
}

export interface FakeModelOptions {
  /** The model says end-of-sequence once the history is this long. */
  readonly eosAfter?: number;
  readonly layers?: number;
  /** Called with each run's input length (to count prefills and decode steps). */
  readonly onRun?: (tokens: number) => void;
}

export function fakeLanguageModel(options: FakeModelOptions = {}): LanguageModel {
  const layers = options.layers ?? 2;
  const inputNames = ['input_ids', 'attention_mask', 'position_ids'];
  const outputNames = ['logits'];
  for (let i = 0; i < layers; i++) {
    inputNames.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
    outputNames.push(`present.${i}.key`, `present.${i}.value`);
  }
  const session: ModelSession = {
    inputNames,
    outputNames,
    run(feeds) {
      const ids = Array.from(feeds.input_ids?.data as BigInt64Array, Number);
      const past = Array.from(feeds['past_key_values.0.key']?.data as Float32Array);
      const mask = feeds.attention_mask?.data as BigInt64Array;
      const positions = Array.from(feeds.position_ids?.data as BigInt64Array, Number);
      if (mask.length !== past.length + ids.length) throw new Error('attention mask does not cover past + input');
      if (positions.some((p, i) => p !== past.length + i))
        throw new Error(`positions ${positions.join()} after ${past.length}`);
      options.onRun?.(ids.length);
      const history = [...past, ...ids];
      const logits = new Float32Array(ids.length * VOCAB);
      for (let i = 0; i < ids.length; i++) {
        logits.set(logitsAfter(history.slice(0, past.length + i + 1), options.eosAfter), i * VOCAB);
      }
      const cache: Tensor = { type: 'float32', data: Float32Array.from(history), dims: [1, 1, history.length, 1] };
      const out: Record<string, Tensor> = { logits: { type: 'float32', data: logits, dims: [1, ids.length, VOCAB] } };
      for (let i = 0; i < layers; i++) {
        out[`present.${i}.key`] = cache;
        out[`present.${i}.value`] = cache;
      }
      return Promise.resolve(out);
    },
    release: () => Promise.resolve(),
  };
  return {
    session,
    cache: { layers, kvHeads: 1, headDim: 1 },
    contextLength: 64,
    eosTokens: [EOS],
    tokenBytes: (token) => (token < 256 ? Uint8Array.of(token) : new Uint8Array(0)),
  };
}

export const bytesOf = (text: string): number[] => Array.from(new TextEncoder().encode(text));
