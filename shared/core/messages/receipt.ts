/**
 * A receipt: a worker's signed claim "I ran task T with model M and the output
 * hashes to H". It is what settles the escrow, and what convicts a worker
 * whose output is proven wrong.
 */
import * as v from 'valibot';
import { decoderFor, hash, modelId, taskId, accountId, timestamp, version } from './fields.ts';

export const BACKENDS = ['wasm', 'webgpu', 'native'] as const;
export type Backend = (typeof BACKENDS)[number];
/** The largest output a receipt may describe: 16 MiB. */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

const nonNegativeInt = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const receiptPayloadSchema = v.strictObject({
  v: version,
  net: accountId,
  task: taskId,
  model: modelId,
  /** SHA-256 of the output bytes. */
  output: hash,
  outputBytes: v.pipe(nonNegativeInt, v.maxValue(MAX_OUTPUT_BYTES)),
  /** Units of work done, as the model's catalogue entry counts them. */
  units: nonNegativeInt,
  backend: v.picklist(BACKENDS),
  /** Wall time of inference in milliseconds. */
  runMs: nonNegativeInt,
  ts: timestamp,
});

export type ReceiptPayload = v.InferOutput<typeof receiptPayloadSchema>;
export const decodeReceiptPayload = decoderFor('receipt', receiptPayloadSchema);
