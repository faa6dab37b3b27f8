/**
 * A task: "run model M on the input whose hash is H, and I will pay at most P".
 * Signed by the requester. The input bytes travel beside the envelope and are
 * checked against `input`; the task id is the envelope's message id.
 */
import * as v from 'valibot';
import { decoderFor, amount, bytes, hash, modelId, accountId, taskId, timestamp, version } from './fields.ts';

/** The largest task input: 16 MiB (a phone photo). */
export const MAX_TASK_INPUT_BYTES = 16 * 1024 * 1024;
export const TASK_NONCE_BYTES = 16;

export const taskPayloadSchema = v.strictObject({
  v: version,
  /** The network (its relay's account) whose ledger escrows the price. */
  net: accountId,
  model: modelId,
  /** SHA-256 of the input bytes. */
  input: hash,
  inputBytes: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_TASK_INPUT_BYTES)),
  /** The most the requester will pay; this is what gets escrowed. */
  maxPrice: amount,
  /** Random bytes that make two identical requests two different tasks. */
  nonce: bytes(TASK_NONCE_BYTES, TASK_NONCE_BYTES),
  ts: timestamp,
});

export type TaskPayload = v.InferOutput<typeof taskPayloadSchema>;
export const decodeTaskPayload = decoderFor('task', taskPayloadSchema);

/** A requester's signed request to cancel its task (honoured only before a worker starts it). */
export const cancelPayloadSchema = v.strictObject({
  v: version,
  net: accountId,
  task: taskId,
  ts: timestamp,
});
export type CancelPayload = v.InferOutput<typeof cancelPayloadSchema>;
export const decodeCancelPayload = decoderFor('task cancel', cancelPayloadSchema);

/**
 * A requester's signed request to stop its text generation where it is: the
 * worker ends it with the pieces made so far and puts this message in the
 * result (`stopProof`), which is what lets it end short of `maxPieces`.
 */
export const stopPayloadSchema = v.strictObject({
  v: version,
  net: accountId,
  task: taskId,
  ts: timestamp,
});
export type StopPayload = v.InferOutput<typeof stopPayloadSchema>;
export const decodeStopPayload = decoderFor('task stop', stopPayloadSchema);
