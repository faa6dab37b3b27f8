/**
 * The model catalogue: every model named by the SHA-256 of its bytes, with what
 * it does, what it takes and gives, what it costs, where it may run and how two
 * runs of it are compared.
 */
import * as v from 'valibot';
import { amount, decoderFor, hash, modelId, text } from '../messages/fields.ts';

/** What a model does, which fixes its input and output formats and its pipeline in shared/core/pipelines. */
export const MODEL_KINDS = [
  'ocr',
  'language-id',
  'image-classification',
  'linear-regression',
  'kmeans',
  'pca',
  'voice-activity',
  /** An operator's own model: named tensors in, named tensors out. */
  'tensor',
] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** Where a model may run: phones take `phone`, desktop workers also `desktop`, the relay everything. */
export const SIZE_CLASSES = ['phone', 'desktop', 'heavy'] as const;
export type SizeClass = (typeof SIZE_CLASSES)[number];

const tensorSpec = v.strictObject({
  name: text(64),
  type: v.picklist(['float32', 'int32', 'int64', 'uint8']),
  /** Dimensions; a string names a free dimension (for example "batch"). */
  shape: v.pipe(v.array(v.union([v.pipe(v.number(), v.safeInteger(), v.minValue(0)), text(32)])), v.maxLength(8)),
});

/**
 * How two runs of a model are compared (float results differ across backends):
 * by top-1 label, by exact text, or by the largest absolute difference.
 */
export const toleranceSchema = v.variant('measure', [
  v.strictObject({ measure: v.literal('top1') }),
  v.strictObject({ measure: v.literal('text') }),
  v.strictObject({ measure: v.literal('max-abs'), value: v.pipe(v.number(), v.minValue(0), v.maxValue(1)) }),
]);
export type Tolerance = v.InferOutput<typeof toleranceSchema>;

export const modelEntrySchema = v.strictObject({
  /** SHA-256 of the main ONNX file. */
  id: modelId,
  name: text(64),
  version: text(32),
  kind: v.picklist(MODEL_KINDS),
  description: text(280),
  /** Size of the main file in bytes. */
  bytes: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  /** Further content-addressed files the pipeline needs (an OCR recogniser, a key list). */
  assets: v.pipe(
    v.array(
      v.strictObject({
        role: text(32),
        id: hash,
        bytes: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
      }),
    ),
    v.maxLength(8),
  ),
  inputs: v.pipe(v.array(tensorSpec), v.maxLength(16)),
  outputs: v.pipe(v.array(tensorSpec), v.maxLength(16)),
  /** Names of the pre- and post-processing steps in shared/core/pipelines. */
  pre: text(64),
  post: text(64),
  price: v.strictObject({
    perUnit: amount,
    /** What one unit of work is, for example "image" or "100 rows". */
    unit: text(64),
  }),
  sizeClass: v.picklist(SIZE_CLASSES),
  tolerance: toleranceSchema,
  license: v.strictObject({ spdx: text(64), source: text(280) }),
  /** Measured figures such as test accuracy. */
  metrics: v.record(text(64), v.number()),
});

export type ModelEntry = v.InferOutput<typeof modelEntrySchema>;
export const decodeModelEntry = decoderFor('model entry', modelEntrySchema);

export const catalogueSchema = v.strictObject({
  v: v.literal(1),
  models: v.pipe(v.array(modelEntrySchema), v.maxLength(1000)),
});
export type Catalogue = v.InferOutput<typeof catalogueSchema>;
export const decodeCatalogue = decoderFor('catalogue', catalogueSchema);

/** The price of a task of `units` units. */
export function priceOf(entry: ModelEntry, units: number): number {
  return entry.price.perUnit * Math.max(1, Math.ceil(units));
}
