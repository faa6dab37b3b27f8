/**
 * Comparing a worker's output with a trusted one, by the model's own
 * tolerance: a top-1 label, exact text, or a bounded numeric error. A "no"
 * here costs a worker its stake, so both directions are pinned down: honest
 * float noise agrees, a different answer or bytes that are no result do not,
 * and a reference that cannot be read proves nothing.
 */
import { describe, expect, it } from 'vitest';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import { compareOutputs } from '#core/models/compare-outputs.ts';
import { linearRegressionPipeline } from '#core/pipelines/data/linear-regression.ts';
import { clothingPipeline } from '#core/pipelines/image-classification/pipeline.ts';
import type { LanguageIdResult } from '#core/pipelines/language-id/pipeline.ts';
import { languageIdPipeline } from '#core/pipelines/language-id/pipeline.ts';
import { ocrPipeline } from '#core/pipelines/ocr/pipeline.ts';

const top1: Tolerance = { measure: 'top1' };
const text: Tolerance = { measure: 'text' };
const languageId = { pre: 'language-id', tolerance: top1 };

function language(label: 'fra' | 'ita', p: number, runnerUp: 'fra' | 'ita' | 'spa', q: number): Uint8Array {
  const result: LanguageIdResult = {
    label,
    confidence: p,
    top: [
      { label, p },
      { label: runnerUp, p: q },
    ],
  };
  return languageIdPipeline.encodeOutput(result);
}

const french = language('fra', 0.91, 'ita', 0.05);

describe('compareOutputs', () => {
  it('agrees on identical bytes without needing a tolerance', () => {
    expect(compareOutputs(languageId, french, Uint8Array.from(french))).toEqual({
      ok: true,
      value: { agree: true, reason: 'identical' },
    });
  });

  it('top1: the same best label agrees whatever the probabilities; another label does not', () => {
    const noisy = language('fra', 0.88, 'spa', 0.07);
    expect(compareOutputs(languageId, french, noisy)).toEqual({
      ok: true,
      value: { agree: true, reason: 'within-tolerance' },
    });
    const italian = language('ita', 0.91, 'fra', 0.05);
    expect(compareOutputs(languageId, french, italian)).toEqual({
      ok: true,
      value: { agree: false, reason: 'outside-tolerance' },
    });
  });

  it('reads the tolerance from the entry: text demands the same result exactly', () => {
    const noisy = language('fra', 0.88, 'ita', 0.07);
    expect(compareOutputs({ pre: 'language-id', tolerance: text }, french, noisy)).toMatchObject({
      ok: true,
      value: { agree: false },
    });
    expect(
      compareOutputs({ pre: 'language-id', tolerance: { measure: 'max-abs', value: 0.05 } }, french, noisy),
    ).toMatchObject({ ok: true, value: { agree: true } });
    expect(
      compareOutputs({ pre: 'language-id', tolerance: { measure: 'max-abs', value: 0.01 } }, french, noisy),
    ).toMatchObject({ ok: true, value: { agree: false } });
  });

  it('max-abs: numbers within the bound agree, numbers beyond it do not', () => {
    const entry = { pre: 'linear-regression', tolerance: { measure: 'max-abs', value: 1e-4 } } as const;
    const fit = (slope: number) =>
      linearRegressionPipeline.encodeOutput({
        coefficients: [slope],
        intercept: 3,
        predictions: [3 + slope, 3 + 2 * slope],
        rmse: 0.01,
        r2: 0.99,
      });
    expect(compareOutputs(entry, fit(2), fit(2 + 5e-5))).toMatchObject({ ok: true, value: { agree: true } });
    expect(compareOutputs(entry, fit(2), fit(2.01))).toEqual({
      ok: true,
      value: { agree: false, reason: 'outside-tolerance' },
    });
  });

  it('text: the same lines agree, a changed word does not', () => {
    const entry = { pre: 'ocr', tolerance: text };
    const read = (words: string, confidence: number) =>
      ocrPipeline.encodeOutput({ lines: [{ text: words, confidence, box: [1, 2, 30, 12] }] });
    expect(compareOutputs(entry, read('Total 12.50', 0.97), read('Total 12.50', 0.93))).toMatchObject({
      ok: true,
      value: { agree: true },
    });
    expect(compareOutputs(entry, read('Total 12.50', 0.97), read('Total 99.50', 0.97))).toMatchObject({
      ok: true,
      value: { agree: false },
    });
  });

  it('a candidate that is no result of the model is a wrong answer', () => {
    for (const candidate of [
      new Uint8Array([1, 2, 3]),
      encodeCanonical({ label: 'fra' }),
      clothingPipeline.encodeOutput({ label: 'Bag', confidence: 0.9, top: [{ label: 'Bag', p: 0.9 }] }),
    ]) {
      expect(compareOutputs(languageId, french, candidate)).toEqual({
        ok: true,
        value: { agree: false, reason: 'undecodable' },
      });
    }
  });

  it('proves nothing when the reference cannot be read or the pipeline is unknown', () => {
    const unreadable = compareOutputs(languageId, new Uint8Array([1, 2, 3]), french);
    expect(unreadable.ok).toBe(false);
    if (!unreadable.ok) expect(unreadable.error.code).toBe('invalid-model-input');
    const unknown = compareOutputs({ pre: 'no-such-pipeline', tolerance: top1 }, french, french);
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error.code).toBe('invalid-model');
  });
});
