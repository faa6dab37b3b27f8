/**
 * Clothing classification (Fashion-MNIST classes): an image in, the most
 * likely of ten garment classes out with its probability and the three best
 * candidates. Pre-processing is in ./preprocess.ts; the ONNX graph maps the
 * 28x28 input to logits and the softmax is taken here, in float64.
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '../../../encoding/canonical.ts';
import { err, ok, type Result } from '../../../result.ts';
import type { Tolerance } from '../../catalogue.ts';
import { InvalidModelInputError } from '../../errors.ts';
import type { ModelPipeline, PipelineModels } from '../../pipeline.ts';
import type { RunOptions } from '../../runtime.ts';
import { float32Tensor } from '../../tensor.ts';
import { decodeClassifyImage, encodeClassifyImage, type ClassifyImage } from './image.ts';
import { CLOTHING_LABELS, type ClothingLabel } from './labels.ts';
import { CLOTHING_PIXELS, CLOTHING_SIDE, prepareClothing } from './preprocess.ts';

/** How many candidates a result lists. */
export const CLOTHING_TOP = 3;
/** The graph's input (float32 [batch, 1, 28, 28], pixel/255) and output (float32 [batch, 10], logits). */
export const CLOTHING_INPUT = 'image';
export const CLOTHING_OUTPUT = 'logits';

export interface ClothingCandidate {
  readonly label: ClothingLabel;
  readonly p: number;
}

export interface ClothingResult {
  /** The most likely class. */
  readonly label: ClothingLabel;
  /** Its probability. */
  readonly confidence: number;
  /** The {@link CLOTHING_TOP} most likely classes, most likely first. */
  readonly top: readonly ClothingCandidate[];
}

const probability = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const resultSchema = v.pipe(
  v.strictObject({
    label: v.picklist(CLOTHING_LABELS),
    confidence: probability,
    top: v.pipe(
      v.array(v.strictObject({ label: v.picklist(CLOTHING_LABELS), p: probability })),
      v.minLength(1),
      v.maxLength(CLOTHING_TOP),
    ),
  }),
  v.check(
    (r) =>
      r.top[0]?.label === r.label &&
      r.top[0].p === r.confidence &&
      new Set(r.top.map((c) => c.label)).size === r.top.length &&
      r.top.every((c, i) => i === 0 || c.p <= (r.top[i - 1] as ClothingCandidate).p),
    'top must list distinct labels, most likely first, starting with label and confidence',
  ),
);

/** Softmax of one row of logits, in float64 (the largest logit is subtracted first). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const values = Array.from(logits);
  const max = Math.max(...values);
  const out = Float64Array.from(values, (l) => Math.exp(l - max));
  let sum = 0;
  for (const e of out) sum += e;
  return out.map((e) => e / sum);
}

/**
 * The result for one row of ten logits: softmax, then the three most likely
 * classes (ties go to the earlier class). Throws when the logits are not ten
 * finite numbers (a broken model, not a bad input).
 */
export function classifyLogits(logits: ArrayLike<number>): ClothingResult {
  if (logits.length !== CLOTHING_LABELS.length) {
    throw new TypeError(`clothing model must give ${CLOTHING_LABELS.length} logits, got ${logits.length}`);
  }
  if (!Array.from(logits).every(Number.isFinite)) throw new TypeError('clothing model output is not finite');
  const top = Array.from(softmax(logits), (p, index) => ({ label: CLOTHING_LABELS[index] as ClothingLabel, p, index }))
    .sort((a, b) => b.p - a.p || a.index - b.index)
    .slice(0, CLOTHING_TOP)
    .map(({ label, p }) => ({ label, p }));
  const best = top[0] as ClothingCandidate;
  return { label: best.label, confidence: best.p, top };
}

/** The largest difference between two results' probabilities, over every label either lists. */
function maxAbsDifference(a: ClothingResult, b: ClothingResult): number {
  // A label missing from a result's top list has a probability of at most its last listed one.
  const bound = (r: ClothingResult): number => r.top.at(-1)?.p ?? 0;
  const pOf = (r: ClothingResult, label: ClothingLabel): { readonly p: number; readonly exact: boolean } => {
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

export const clothingPipeline: ModelPipeline<ClassifyImage, ClothingResult> = {
  name: 'clothing',

  decodeInput(bytes: Uint8Array): Result<ClassifyImage, InvalidModelInputError> {
    return decodeClassifyImage(bytes);
  },

  encodeInput(image: ClassifyImage): Uint8Array {
    return encodeClassifyImage(image);
  },

  units(): number {
    return 1;
  },

  async run(models: PipelineModels, image: ClassifyImage, options?: RunOptions): Promise<ClothingResult> {
    const pixels = new Float32Array(CLOTHING_PIXELS);
    prepareClothing(image, pixels);
    const input = float32Tensor(pixels, [1, 1, CLOTHING_SIDE, CLOTHING_SIDE]);
    const outputs = await models.main.run({ [CLOTHING_INPUT]: input }, options);
    const output = outputs[CLOTHING_OUTPUT];
    if (output?.type !== 'float32' || output.data.length !== CLOTHING_LABELS.length) {
      throw new TypeError(`clothing model must output float32 ${CLOTHING_OUTPUT}[1, ${CLOTHING_LABELS.length}]`);
    }
    return classifyLogits(output.data as Float32Array);
  },

  encodeOutput(output: ClothingResult): Uint8Array {
    return encodeCanonical({
      label: output.label,
      confidence: output.confidence,
      top: output.top.map((c) => ({ label: c.label, p: c.p })),
    });
  },

  decodeOutput(bytes: Uint8Array): Result<ClothingResult, InvalidModelInputError> {
    const decoded = decodeCanonical(bytes, { maxBytes: 1024 });
    if (!decoded.ok) return err(new InvalidModelInputError(`clothing output: ${decoded.error.message}`));
    const parsed = v.safeParse(resultSchema, decoded.value);
    if (!parsed.success) {
      return err(new InvalidModelInputError(`clothing output: ${parsed.issues.map((i) => i.message).join('; ')}`));
    }
    return ok(parsed.output);
  },

  agree(a: ClothingResult, b: ClothingResult, tolerance: Tolerance): boolean {
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
