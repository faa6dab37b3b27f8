/**
 * Language identification with lande's t50 model: UTF-8 text in, the most
 * likely of 50 languages out with its probability and the five best
 * candidates. The n-gram features are computed here; the ONNX graph maps them
 * to probabilities.
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '../../../encoding/canonical.ts';
import { err, ok, type Result } from '../../../result.ts';
import type { Tolerance } from '../../catalogue.ts';
import { InvalidModelInputError } from '../../errors.ts';
import type { ModelPipeline, PipelineModels } from '../../pipeline.ts';
import type { RunOptions } from '../../runtime.ts';
import { float32Tensor } from '../../tensor.ts';
import { LANGUAGE_ID_FEATURES, languageIdFeatures } from './features.ts';
import { LANGUAGE_ID_LABELS, type LanguageCode } from './labels.ts';

/** The largest input text: 4 KiB of UTF-8. */
export const LANGUAGE_ID_MAX_INPUT_BYTES = 4096;
/** How many candidates a result lists. */
export const LANGUAGE_ID_TOP = 5;
/** The graph's input (float32 [batch, 620]) and output (float32 [batch, 50]). */
export const LANGUAGE_ID_INPUT = 'features';
export const LANGUAGE_ID_OUTPUT = 'probabilities';

export interface LanguageCandidate {
  readonly label: LanguageCode;
  readonly p: number;
}

export interface LanguageIdResult {
  /** The most likely language. */
  readonly label: LanguageCode;
  /** Its probability. */
  readonly confidence: number;
  /** The {@link LANGUAGE_ID_TOP} most likely languages, most likely first. */
  readonly top: readonly LanguageCandidate[];
}

const probability = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const resultSchema = v.pipe(
  v.strictObject({
    label: v.picklist(LANGUAGE_ID_LABELS),
    confidence: probability,
    top: v.pipe(
      v.array(v.strictObject({ label: v.picklist(LANGUAGE_ID_LABELS), p: probability })),
      v.minLength(1),
      v.maxLength(LANGUAGE_ID_TOP),
    ),
  }),
  v.check(
    (r) =>
      r.top[0]?.label === r.label &&
      r.top[0].p === r.confidence &&
      new Set(r.top.map((c) => c.label)).size === r.top.length &&
      r.top.every((c, i) => i === 0 || c.p <= (r.top[i - 1] as LanguageCandidate).p),
    'top must list distinct labels, most likely first, starting with label and confidence',
  ),
);

/** The five most likely languages of a probability vector; ties go to the earlier label, as in lande. */
export function rankLanguages(probabilities: Float32Array): LanguageCandidate[] {
  return Array.from(probabilities, (p, index) => ({ label: LANGUAGE_ID_LABELS[index] as LanguageCode, p, index }))
    .sort((a, b) => b.p - a.p || a.index - b.index)
    .slice(0, LANGUAGE_ID_TOP)
    .map(({ label, p }) => ({ label, p }));
}

/** The largest difference between two results' probabilities, over every label either lists. */
function maxAbsDifference(a: LanguageIdResult, b: LanguageIdResult): number {
  // A label missing from a result's top list has a probability of at most its last listed one.
  const bound = (r: LanguageIdResult): number => r.top.at(-1)?.p ?? 0;
  const pOf = (r: LanguageIdResult, label: LanguageCode): { readonly p: number; readonly exact: boolean } => {
    const found = r.top.find((c) => c.label === label);
    return found ? { p: found.p, exact: true } : { p: bound(r), exact: false };
  };
  let max = Math.abs(a.confidence - b.confidence);
  for (const label of new Set([...a.top, ...b.top].map((c) => c.label))) {
    const pa = pOf(a, label);
    const pb = pOf(b, label);
    if (pa.exact && pb.exact) max = Math.max(max, Math.abs(pa.p - pb.p));
    // Only the exact one can be compared: it must not exceed the other's bound by more than the tolerance.
    else if (pa.exact) max = Math.max(max, pa.p - pb.p);
    else if (pb.exact) max = Math.max(max, pb.p - pa.p);
  }
  return max;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const languageIdPipeline: ModelPipeline<string, LanguageIdResult> = {
  name: 'language-id',

  decodeInput(bytes: Uint8Array): Result<string, InvalidModelInputError> {
    if (!(bytes instanceof Uint8Array)) return err(new InvalidModelInputError('language-id input must be bytes'));
    if (bytes.length === 0) return err(new InvalidModelInputError('language-id input is empty'));
    if (bytes.length > LANGUAGE_ID_MAX_INPUT_BYTES) {
      return err(
        new InvalidModelInputError(
          `language-id input is ${bytes.length} bytes, the cap is ${LANGUAGE_ID_MAX_INPUT_BYTES}`,
        ),
      );
    }
    try {
      return ok(utf8.decode(bytes));
    } catch {
      return err(new InvalidModelInputError('language-id input is not valid UTF-8'));
    }
  },

  encodeInput(text: string): Uint8Array {
    return new TextEncoder().encode(text);
  },

  units(): number {
    return 1;
  },

  async run(models: PipelineModels, text: string, options?: RunOptions): Promise<LanguageIdResult> {
    const features = float32Tensor(languageIdFeatures(text), [1, LANGUAGE_ID_FEATURES]);
    const outputs = await models.main.run({ [LANGUAGE_ID_INPUT]: features }, options);
    const output = outputs[LANGUAGE_ID_OUTPUT];
    if (output?.type !== 'float32' || output.data.length !== LANGUAGE_ID_LABELS.length) {
      throw new TypeError(
        `language-id model must output float32 ${LANGUAGE_ID_OUTPUT}[1, ${LANGUAGE_ID_LABELS.length}]`,
      );
    }
    const probabilities = output.data as Float32Array;
    if (!probabilities.every((p) => p >= 0 && p <= 1))
      throw new TypeError('language-id model output is not probabilities');
    const top = rankLanguages(probabilities);
    const best = top[0] as LanguageCandidate;
    return { label: best.label, confidence: best.p, top };
  },

  encodeOutput(output: LanguageIdResult): Uint8Array {
    return encodeCanonical({
      label: output.label,
      confidence: output.confidence,
      top: output.top.map((c) => ({ label: c.label, p: c.p })),
    });
  },

  decodeOutput(bytes: Uint8Array): Result<LanguageIdResult, InvalidModelInputError> {
    const decoded = decodeCanonical(bytes, { maxBytes: 1024 });
    if (!decoded.ok) return err(new InvalidModelInputError(`language-id output: ${decoded.error.message}`));
    const parsed = v.safeParse(resultSchema, decoded.value);
    if (!parsed.success) {
      return err(new InvalidModelInputError(`language-id output: ${parsed.issues.map((i) => i.message).join('; ')}`));
    }
    return ok(parsed.output);
  },

  agree(a: LanguageIdResult, b: LanguageIdResult, tolerance: Tolerance): boolean {
    switch (tolerance.measure) {
      case 'top1':
        return a.label === b.label;
      case 'max-abs':
        return a.label === b.label && maxAbsDifference(a, b) <= tolerance.value;
      case 'text':
        return (
          a.label === b.label &&
          a.confidence === b.confidence &&
          a.top.length === b.top.length &&
          a.top.every((c, i) => c.label === b.top[i]?.label && c.p === b.top[i].p)
        );
    }
  },
};
