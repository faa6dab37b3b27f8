/**
 * The relay's JSON answers, as the SDK reads them: one valibot schema per
 * answer, because a relay (or a proxy in front of it) is untrusted input.
 * Bytes arrive as base64url text and leave these schemas as Uint8Array.
 */
import * as v from 'valibot';
import { fromBase64Url } from '../encoding/bytes.ts';
import { accountId, hash, modelId, taskId } from '../messages/fields.ts';
import type { TxId } from '../identity/ids.ts';
import { TASK_STATES } from '../task-state/task-state.ts';

const txId = hash as unknown as v.CustomSchema<TxId, undefined>;
const wholeNumber = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const base64Url = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_-]*$/, 'must be base64url'),
  v.transform((text) => fromBase64Url(text)),
);
const errorDetail = v.object({ code: v.string(), message: v.string() });

/** What the relay shows of a task (fields it has not set yet are absent). */
export const taskViewSchema = v.object({
  id: taskId,
  requester: accountId,
  model: modelId,
  state: v.picklist(TASK_STATES),
  /** What it costs: escrowed `maxPrice`, charged `price` on settlement. */
  price: wholeNumber,
  maxPrice: wholeNumber,
  units: wholeNumber,
  submittedAt: wholeNumber,
  finishedAt: v.optional(wholeNumber),
  /** Ledger transactions: escrow, then settle or refund. */
  escrowTx: v.optional(txId),
  settleTx: v.optional(txId),
  refundTx: v.optional(txId),
  worker: v.optional(accountId),
  outputHash: v.optional(hash),
  error: v.optional(errorDetail),
});
export type TaskView = v.InferOutput<typeof taskViewSchema>;

export const statusSchema = v.object({
  version: v.string(),
  uptimeSeconds: v.number(),
  /** The relay's identity: its account id (the network id) and raw public key. */
  relay: v.optional(v.object({ account: accountId, publicKey: base64Url })),
});
export type RelayStatus = v.InferOutput<typeof statusSchema>;

export const puzzleSchema = v.object({ network: accountId, difficulty: wholeNumber, grant: wholeNumber });
export type OnboardPuzzle = v.InferOutput<typeof puzzleSchema>;

export const onboardedSchema = v.object({ account: accountId, balance: wholeNumber, tx: txId });
export type Onboarded = v.InferOutput<typeof onboardedSchema>;

/** Unstaked tokens on their way back: not spendable, still slashable, until released. */
export const unbondingSchema = v.object({
  /** The `tx/unstake` they came from. */
  unstake: txId,
  /** What is left of it (a slash takes from it). */
  amount: wholeNumber,
  /** From when the relay releases it to the balance, in ms since the epoch (it lands in the next block). */
  releaseAt: wholeNumber,
});
export type UnbondingView = v.InferOutput<typeof unbondingSchema>;

export const balanceSchema = v.object({
  account: accountId,
  balance: wholeNumber,
  stake: wholeNumber,
  seq: wholeNumber,
  reputation: v.number(),
  granted: v.boolean(),
  /** Each unstake still unbonding, oldest first; absent from relays older than unbonding. */
  unbonding: v.optional(v.pipe(v.array(unbondingSchema), v.maxLength(64))),
});
export type AccountBalance = v.InferOutput<typeof balanceSchema>;

export const submittedTxSchema = v.object({ id: txId, seq: v.optional(v.nullable(wholeNumber)) });
export type SubmittedTx = v.InferOutput<typeof submittedTxSchema>;

export const taskAnswerSchema = v.object({ task: taskViewSchema });
/** Where to run a task on the interactive path: the worker, its WebRTC addresses and the relay's signed assignment. */
export const directOfferSchema = v.object({
  worker: accountId,
  addrs: v.pipe(v.array(v.pipe(v.string(), v.maxLength(256))), v.maxLength(16)),
  assignment: base64Url,
  expiresAt: wholeNumber,
});
export type DirectOffer = v.InferOutput<typeof directOfferSchema>;
/** `POST /api/tasks` with `route: "direct"`: the task, and the offer when a worker can be dialled. */
export const directSubmitSchema = v.object({ task: taskViewSchema, direct: v.optional(directOfferSchema) });
export const taskListSchema = v.object({ tasks: v.array(taskViewSchema) });
export const taskResultSchema = v.object({ task: taskViewSchema, output: base64Url, receipt: base64Url });
export type TaskResult = v.InferOutput<typeof taskResultSchema>;

export const blocksPageSchema = v.object({
  /** The relay's chain height now. */
  height: wholeNumber,
  blocks: v.array(v.object({ height: wholeNumber, id: hash, txCount: wholeNumber, header: base64Url })),
  /** Where the next page starts, or null at the head. */
  next: v.nullable(wholeNumber),
});
export type BlocksPage = v.InferOutput<typeof blocksPageSchema>;

export const storedTxSchema = v.object({
  id: txId,
  type: v.string(),
  seq: v.optional(v.nullable(wholeNumber)),
  /** Where it is: the block's height and the transaction's position in it; null until a block holds it. */
  block: v.nullable(v.object({ height: wholeNumber, index: wholeNumber })),
  tx: base64Url,
});
export type StoredTx = v.InferOutput<typeof storedTxSchema>;

/** The Merkle inclusion proof of a transaction in a signed block header. */
export const txProofSchema = v.object({
  height: wholeNumber,
  /** The encoded, signed block header envelope. */
  header: base64Url,
  /** The encoded transaction envelope (the Merkle leaf). */
  tx: base64Url,
  proof: v.object({ index: wholeNumber, size: wholeNumber, path: v.array(hash) }),
});
export type TxProof = v.InferOutput<typeof txProofSchema>;

export const errorBodySchema = v.object({ error: errorDetail });
