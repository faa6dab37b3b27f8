import { describe, expect, it } from 'vitest';
import { generate, type GenerateRequest, type Generation, type GeneratedToken } from '#core/generation/generate.ts';
import { createSplitMix64 } from '#core/generation/prng.ts';
import { GREEDY, sampleToken, type SamplingParams } from '#core/generation/sampler.ts';
import { bytesOf, EOS, fakeLanguageModel, logitsAfter } from './fake-language-model.ts';

async function run(
  model: ReturnType<typeof fakeLanguageModel>,
  request: GenerateRequest,
): Promise<{ pieces: GeneratedToken[]; result: Generation }> {
  const pieces: GeneratedToken[] = [];
  const it = generate(model, request);
  for (;;) {
    const next = await it.next();
    if (next.done) return { pieces, result: next.value };
    pieces.push(next.value);
  }
}

/** Generation without a cache: the whole sequence re-read for every token. */
function withoutCache(prompt: number[], maxTokens: number, sampling: SamplingParams, seed: number): number[] {
  const prng = createSplitMix64(seed);
  const tokens: number[] = [];
  while (tokens.length < maxTokens) {
    const token = sampleToken(logitsAfter([...prompt, ...tokens]), sampling, prng.nextFloat());
    tokens.push(token);
    if (token === EOS) break;
  }
  return tokens;
}

const prompt = bytesOf('In the beginning ');

describe('the generation loop', () => {
  it('prefills once, then decodes one token at a time with the cache, and gets what re-reading everything gets', async () => {
    const runs: number[] = [];
    const sampling: SamplingParams = { temperature: 0.9, topK: 5, topP: 0.95 };
    const { result } = await run(fakeLanguageModel({ onRun: (n) => runs.push(n) }), {
      prompt,
      maxTokens: 12,
      sampling,
      seed: 99,
    });
    expect(runs).toEqual([prompt.length, ...new Array<number>(11).fill(1)]);
    expect(result.tokens).toEqual(withoutCache(prompt, 12, sampling, 99));
    expect(result).toMatchObject({ finishReason: 'length', promptTokens: prompt.length });
    expect(result.text).toBe(String.fromCharCode(...result.tokens));
  });

  it('is deterministic for a seed, and another seed samples other tokens', async () => {
    const sampling: SamplingParams = { temperature: 1.2, topK: 0, topP: 1 };
    const request = { prompt, maxTokens: 20, sampling, seed: 7 };
    const a = await run(fakeLanguageModel(), request);
    const b = await run(fakeLanguageModel(), request);
    const c = await run(fakeLanguageModel(), { ...request, seed: 8 });
    expect(b.result.tokens).toEqual(a.result.tokens);
    expect(c.result.tokens).not.toEqual(a.result.tokens);
  });

  it('streams each token with its text, and the pieces add up to the whole text', async () => {
    const { pieces, result } = await run(fakeLanguageModel(), { prompt, maxTokens: 8, sampling: GREEDY, seed: 1 });
    expect(pieces.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(pieces.map((p) => p.token)).toEqual(result.tokens);
    expect(pieces.map((p) => p.text).join('')).toBe(result.text);
  });

  it('stops on end-of-sequence (finish "stop"), which is counted but not shown', async () => {
    const { result, pieces } = await run(fakeLanguageModel({ eosAfter: prompt.length + 3 }), {
      prompt,
      maxTokens: 50,
      sampling: GREEDY,
      seed: 1,
    });
    expect(result.tokens).toHaveLength(4);
    expect(result.tokens.at(-1)).toBe(EOS);
    expect(result.finishReason).toBe('stop');
    expect(result.text).toHaveLength(3);
    expect(pieces.at(-1)?.text).toBe('');
  });

  it('stops at a stop string, leaving it out of the text', async () => {
    const free = await run(fakeLanguageModel(), { prompt, maxTokens: 10, sampling: GREEDY, seed: 1 });
    const stop = free.result.text.slice(3, 5);
    const { result } = await run(fakeLanguageModel(), {
      prompt,
      maxTokens: 10,
      sampling: GREEDY,
      seed: 1,
      stop: [stop],
    });
    expect(result.finishReason).toBe('stop');
    expect(result.text).toBe(free.result.text.slice(0, free.result.text.indexOf(stop)));
  });

  it('never runs past the context', async () => {
    const model = fakeLanguageModel();
    const long = new Array<number>(model.contextLength - 3).fill(97);
    const { result } = await run(model, { prompt: long, maxTokens: 100, sampling: GREEDY, seed: 1 });
    expect(result.tokens).toHaveLength(3);
    expect(result.finishReason).toBe('length');
  });

  it('stops when the signal aborts, rejecting with its reason, after the tokens already delivered', async () => {
    const controller = new AbortController();
    const reason = new Error('stopped by the user');
    const seen: number[] = [];
    const loop = async () => {
      for await (const piece of generate(fakeLanguageModel(), {
        prompt,
        maxTokens: 50,
        sampling: GREEDY,
        seed: 1,
        signal: controller.signal,
      })) {
        seen.push(piece.token);
        if (seen.length === 3) controller.abort(reason);
      }
    };
    await expect(loop()).rejects.toBe(reason);
    expect(seen).toHaveLength(3);
  });

  it('refuses a request it cannot run, before running anything, with typed errors', async () => {
    const runs: number[] = [];
    const model = fakeLanguageModel({ onRun: (n) => runs.push(n) });
    const refuse = (request: Partial<GenerateRequest>) =>
      run(model, { prompt, maxTokens: 5, sampling: GREEDY, seed: 1, ...request });
    await expect(refuse({ prompt: [] })).rejects.toMatchObject({ name: 'InvalidPromptError', code: 'invalid-prompt' });
    await expect(refuse({ prompt: new Array<number>(64).fill(97) })).rejects.toMatchObject({ code: 'invalid-prompt' });
    await expect(refuse({ maxTokens: 0 })).rejects.toMatchObject({ code: 'invalid-prompt' });
    await expect(refuse({ sampling: { temperature: 3, topK: 0, topP: 1 } })).rejects.toMatchObject({
      name: 'InvalidSamplingError',
    });
    expect(runs).toEqual([]);
  });
});
