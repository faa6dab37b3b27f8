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
  /** A causal language model with a key/value cache: a prompt in, generated text out, priced per piece. */
  'text-generation',
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

const count = (min: number, max: number) => v.pipe(v.number(), v.safeInteger(), v.minValue(min), v.maxValue(max));

/**
 * What the generation loop must know of a `text-generation` model, and its
 * prices. A language model reads and writes text in *pieces* (what model
 * makers call tokens: for the shipped model one byte each); the word "token"
 * is kept for the ledger's currency, so a price reads "2 tokens per 1,000
 * pieces".
 */
export const textGenerationSpecSchema = v.strictObject({
  /** `byte`: one piece per UTF-8 byte (ids 0 to 255), special pieces above. */
  tokenizer: v.literal('byte'),
  /** `plain`: the beginning-of-text piece, then every message's text, each followed by one space. */
  template: v.literal('plain'),
  /** Prompt and generated pieces together may not exceed this. */
  contextLength: count(2, 1 << 20),
  /** The piece that starts every prompt. */
  bos: count(0, 1 << 24),
  /** Pieces that end a generation. */
  eos: v.pipe(v.array(count(0, 1 << 24)), v.minLength(1), v.maxLength(8)),
  /** The key/value cache's shape: `past_key_values.N.key|value` of [1, kvHeads, positions, headDim]. */
  cache: v.strictObject({ layers: count(1, 1024), kvHeads: count(1, 1024), headDim: count(1, 4096) }),
  price: v.strictObject({
    /** Tokens (the currency) per 1,000 prompt pieces read. */
    perThousandPrompt: amount,
    /** Tokens per 1,000 pieces generated. */
    perThousandGenerated: amount,
  }),
});
export type TextGenerationSpec = v.InferOutput<typeof textGenerationSpecSchema>;

const modelEntryFields = v.strictObject({
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
  /** Present exactly when `kind` is `text-generation`. */
  textGeneration: v.optional(textGenerationSpecSchema),
});

export const modelEntrySchema = v.pipe(
  modelEntryFields,
  v.check(
    (entry) => (entry.kind === 'text-generation') === (entry.textGeneration !== undefined),
    'a text-generation model, and only one, has a textGeneration section',
  ),
);

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

/** Pieces of text a generation read (its prompt, template included) and wrote. */
export interface TextUsage {
  readonly promptPieces: number;
  readonly generatedPieces: number;
}

/** The price of a generation: prompt and generated pieces at their prices per 1,000, rounded up, at least 1. */
export function generationPrice(spec: TextGenerationSpec, usage: TextUsage): number {
  const { perThousandPrompt, perThousandGenerated } = spec.price;
  const milli = usage.promptPieces * perThousandPrompt + usage.generatedPieces * perThousandGenerated;
  return Math.max(1, Math.ceil(milli / 1000));
}
