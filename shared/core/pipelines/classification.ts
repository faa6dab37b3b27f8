/**
 * The result of a classification task, shared by every classifier: the most
 * likely label with its probability and the few best candidates, most likely
 * first. One {@link classification} per task fixes its label list and how many
 * candidates a result lists; it ranks probabilities, encodes and decodes
 * results (canonically, as `{label, confidence, top: [{label, p}]}`) and
 * compares two runners' results.
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '../encoding/canonical.ts';
import { err, ok, type Result } from '../result.ts';
import type { Tolerance } from '../models/catalogue.ts';
import { InvalidModelInputError } from '../models/errors.ts';

export interface Candidate<L extends string> {
  readonly label: L;
  readonly p: number;
}

export interface ClassificationResult<L extends string> {
  /** The most likely label. */
  readonly label: L;
  /** Its probability. */
  readonly confidence: number;
  /** The task's most likely labels, most likely first. */
  readonly top: readonly Candidate<L>[];
}

/** One task's classification results. */
export interface Classification<L extends string> {
  /** The most likely `top` labels of a probability vector (one per label, in label order); ties go to the earlier label. */
  rank(probabilities: ArrayLike<number>): Candidate<L>[];
  /** The result for a probability vector: its ranking, led by the most likely label. */
  result(probabilities: ArrayLike<number>): ClassificationResult<L>;
  encodeOutput(output: ClassificationResult<L>): Uint8Array;
  /** Decodes and checks a result; errors are prefixed with the task's name. Never throws. */
  decodeOutput(bytes: Uint8Array): Result<ClassificationResult<L>, InvalidModelInputError>;
  /** Whether two results agree: the same label and, by the tolerance's measure, close enough probabilities. */
  agree(a: ClassificationResult<L>, b: ClassificationResult<L>, tolerance: Tolerance): boolean;
}

/** Softmax of one row of logits, in float64 (the largest logit is subtracted first). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const values = Array.from(logits);
  const max = Math.max(...values);
  const out = Float64Array.from(values, (l) => Math.exp(l - max));
  let sum = 0;
  for (const e of out) sum += e;
  return out.map((e) => e / sum);
}

/** The largest difference between two results' probabilities, over every label either lists. */
function maxAbsDifference<L extends string>(a: ClassificationResult<L>, b: ClassificationResult<L>): number {
  // A label missing from a result's top list has a probability of at most its last listed one.
  const bound = (r: ClassificationResult<L>): number => r.top.at(-1)?.p ?? 0;
  const pOf = (r: ClassificationResult<L>, label: L): { readonly p: number; readonly exact: boolean } => {
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

/**
 * The classification results of task `name`, whose model scores `labels` (in
 * output order) and whose results list the `top` most likely of them.
 */
export function classification<const L extends string>(
  name: string,
  labels: readonly L[],
  top: number,
): Classification<L> {
  const probability = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
  const resultSchema = v.pipe(
    v.strictObject({
      label: v.picklist(labels),
      confidence: probability,
      top: v.pipe(
        v.array(v.strictObject({ label: v.picklist(labels), p: probability })),
        v.minLength(1),
        v.maxLength(top),
      ),
    }),
    v.check(
      (r) =>
        r.top[0]?.label === r.label &&
        r.top[0].p === r.confidence &&
        new Set(r.top.map((c) => c.label)).size === r.top.length &&
        r.top.every((c, i) => i === 0 || c.p <= (r.top[i - 1] as Candidate<L>).p),
      'top must list distinct labels, most likely first, starting with label and confidence',
    ),
  );

  const rank = (probabilities: ArrayLike<number>): Candidate<L>[] =>
    Array.from(probabilities, (p, index) => ({ label: labels[index] as L, p, index }))
      .sort((a, b) => b.p - a.p || a.index - b.index)
      .slice(0, top)
      .map(({ label, p }) => ({ label, p }));

  return {
    rank,

    result(probabilities: ArrayLike<number>): ClassificationResult<L> {
      const ranked = rank(probabilities);
      const best = ranked[0] as Candidate<L>;
      return { label: best.label, confidence: best.p, top: ranked };
    },

    encodeOutput(output: ClassificationResult<L>): Uint8Array {
      return encodeCanonical({
        label: output.label,
        confidence: output.confidence,
        top: output.top.map((c) => ({ label: c.label, p: c.p })),
      });
    },

    decodeOutput(bytes: Uint8Array): Result<ClassificationResult<L>, InvalidModelInputError> {
      const decoded = decodeCanonical(bytes, { maxBytes: 1024 });
      if (!decoded.ok) return err(new InvalidModelInputError(`${name} output: ${decoded.error.message}`));
      const parsed = v.safeParse(resultSchema, decoded.value);
      if (!parsed.success) {
        return err(new InvalidModelInputError(`${name} output: ${parsed.issues.map((i) => i.message).join('; ')}`));
      }
      return ok(parsed.output);
    },

    agree(a: ClassificationResult<L>, b: ClassificationResult<L>, tolerance: Tolerance): boolean {
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
}
