import { describe, expect, it } from 'vitest';
import { checkGeneration } from '#core/generation/check-generation.ts';
import { generate, type GenerateRequest } from '#core/generation/generate.ts';
import type { SamplingParams } from '#core/generation/sampler.ts';
import { bytesOf, EOS, fakeLanguageModel } from './fake-language-model.ts';

async function honest(request: GenerateRequest, eosAfter?: number) {
  const it = generate(fakeLanguageModel(eosAfter === undefined ? {} : { eosAfter }), request);
  for (;;) {
    const next = await it.next();
    if (next.done) return next.value;
  }
}

const prompt = bytesOf('And God said, ');
const sampled: SamplingParams = { temperature: 1, topK: 8, topP: 0.9 };

describe('checking a claimed generation in one forced pass', () => {
  it('accepts an honest answer, greedy or sampled, in a single run of the model', async () => {
    for (const sampling of [{ temperature: 0, topK: 0, topP: 1 }, sampled]) {
      const request = { prompt, maxTokens: 16, sampling, seed: 5 };
      const answer = await honest(request);
      const runs: number[] = [];
      const verdict = await checkGeneration(fakeLanguageModel({ onRun: (n) => runs.push(n) }), request, answer);
      expect(verdict).toEqual({ ok: true });
      expect(runs).toEqual([prompt.length + 15]);
    }
  });

  it('catches a changed token, naming the first one', async () => {
    const request = { prompt, maxTokens: 16, sampling: sampled, seed: 5 };
    const answer = await honest(request);
    const tokens = [...answer.tokens];
    tokens[6] = tokens[6] === 120 ? 121 : 120;
    expect(await checkGeneration(fakeLanguageModel(), request, { ...answer, tokens })).toEqual({
      ok: false,
      reason: 'wrong-token',
      index: 6,
    });
  });

  it('catches an answer claimed for another seed', async () => {
    const answer = await honest({ prompt, maxTokens: 16, sampling: sampled, seed: 5 });
    const verdict = await checkGeneration(
      fakeLanguageModel(),
      { prompt, maxTokens: 16, sampling: sampled, seed: 6 },
      answer,
    );
    expect(verdict).toMatchObject({ ok: false, reason: 'wrong-token' });
  });

  it('catches a truncated answer, an inflated one and a misplaced end-of-sequence', async () => {
    const request = { prompt, maxTokens: 16, sampling: sampled, seed: 5 };
    const answer = await honest(request);
    const model = fakeLanguageModel();
    expect(await checkGeneration(model, request, { ...answer, tokens: answer.tokens.slice(0, 10) })).toMatchObject({
      reason: 'early-end',
    });
    expect(await checkGeneration(model, request, { ...answer, tokens: [...answer.tokens, 97] })).toMatchObject({
      reason: 'too-long',
    });
    expect(
      await checkGeneration(model, request, { finishReason: 'stop', tokens: [EOS, ...answer.tokens.slice(1)] }),
    ).toMatchObject({ reason: 'eos-not-last', index: 0 });
    expect(await checkGeneration(model, request, { finishReason: 'stop', tokens: [] })).toMatchObject({
      reason: 'early-end',
    });
  });

  it('accepts an answer that ended on end-of-sequence, and refuses one that stops early without it', async () => {
    const request = { prompt, maxTokens: 30, sampling: sampled, seed: 3 };
    const answer = await honest(request, prompt.length + 5);
    expect(answer.tokens.at(-1)).toBe(EOS);
    const model = fakeLanguageModel({ eosAfter: prompt.length + 5 });
    expect(await checkGeneration(model, request, answer)).toEqual({ ok: true });
    expect(
      await checkGeneration(model, request, { finishReason: 'stop', tokens: [...answer.tokens.slice(0, -1), 97] }),
    ).toMatchObject({ ok: false, reason: 'wrong-token', index: 5 });
  });
});
