import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  acceptsToken,
  checkSamplingParams,
  GREEDY,
  sampleToken,
  type SamplingParams,
} from '#core/generation/sampler.ts';

const logits = (values: number[]) => Float32Array.from(values);

describe('sampling the next token', () => {
  it('greedy takes the highest logit, the lowest id on a tie, whatever the draw', () => {
    expect(sampleToken(logits([1, 5, 3, 5]), GREEDY, 0.99)).toBe(1);
    expect(sampleToken(logits([-1, -2]), GREEDY, 0)).toBe(0);
  });

  it('picks by cumulative probability in logit order, so a draw maps to one token', () => {
    // softmax([ln 3, ln 1]) = [0.75, 0.25]: draws below 0.75 pick token 0.
    const params: SamplingParams = { temperature: 1, topK: 0, topP: 1 };
    const l = logits([Math.log(3), 0]);
    expect(sampleToken(l, params, 0.74)).toBe(0);
    expect(sampleToken(l, params, 0.76)).toBe(1);
  });

  it('top-k 1 and a tiny top-p are greedy', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 2, maxLength: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (values, u) => {
          const l = logits(values);
          const greedy = sampleToken(l, GREEDY, u);
          expect(sampleToken(l, { temperature: 0.8, topK: 1, topP: 1 }, u)).toBe(greedy);
          expect(sampleToken(l, { temperature: 0.8, topK: 0, topP: 1e-9 }, u)).toBe(greedy);
        },
      ),
    );
  });

  it('refuses parameters out of range with a typed error', () => {
    for (const bad of [
      { temperature: -0.1, topK: 0, topP: 1 },
      { temperature: 2.5, topK: 0, topP: 1 },
      { temperature: Number.NaN, topK: 0, topP: 1 },
      { temperature: 1, topK: -1, topP: 1 },
      { temperature: 1, topK: 1.5, topP: 1 },
      { temperature: 1, topK: 0, topP: 0 },
      { temperature: 1, topK: 0, topP: 1.01 },
    ]) {
      expect(() => {
        checkSamplingParams(bad);
      }).toThrow(expect.objectContaining({ name: 'InvalidSamplingError', code: 'invalid-sampling' }));
    }
    expect(() => {
      checkSamplingParams({ temperature: 0.7, topK: 40, topP: 0.9 });
    }).not.toThrow();
  });
});

describe('accepting a claimed token from the checker’s logits', () => {
  const params = fc.record({
    temperature: fc.constantFrom(0, 0.5, 1, 1.5),
    topK: fc.constantFrom(0, 1, 3, 10),
    topP: fc.constantFrom(1, 0.9, 0.5),
  });

  it('accepts exactly the pick the sampler makes, and refuses a clearly worse token', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -40, max: 40 }), { minLength: 3, maxLength: 30 }),
        params,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (values, p, u) => {
          // Distinct logits a whole unit apart: no near-ties.
          const l = logits(values.map((v, i) => v * values.length + i));
          const pick = sampleToken(l, p, u);
          expect(acceptsToken(l, p, u, pick)).toBe(true);
          const worst = l.indexOf(Math.min(...l));
          if (worst !== pick && p.temperature === 0) expect(acceptsToken(l, p, u, worst)).toBe(false);
        },
      ),
    );
  });

  it('tolerates the last bits of another backend: a near-tie, or a draw at an interval’s edge', () => {
    const l = logits([2, 2 - 1e-5, -3]);
    expect(acceptsToken(l, GREEDY, 0.5, 1)).toBe(true);
    expect(acceptsToken(l, GREEDY, 0.5, 2)).toBe(false);
    const p: SamplingParams = { temperature: 1, topK: 0, topP: 1 };
    const even = logits([0, 0]);
    expect(acceptsToken(even, p, 0.5 - 1e-6, 1)).toBe(true);
    expect(acceptsToken(even, p, 0.4, 1)).toBe(false);
  });

  it('refuses a token the model does not have', () => {
    expect(acceptsToken(logits([1, 2]), GREEDY, 0, 2)).toBe(false);
    expect(acceptsToken(logits([1, 2]), GREEDY, 0, -1)).toBe(false);
    expect(acceptsToken(logits([1, 2]), GREEDY, 0, 0.5)).toBe(false);
  });
});
