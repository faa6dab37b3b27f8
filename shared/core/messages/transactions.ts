/**
 * Ledger transactions, one schema per kind. Who signs which:
 * - the account itself: transfer, stake, unstake (ordered by `seq`);
 * - the relay (the network's authority): grant, escrow, settle, refund, slash,
 *   release.
 *   Escrow, settle and slash embed the requester's signed task or the worker's
 *   signed receipt, so each is self-proving: the ledger checks those inner
 *   signatures too.
 */
import * as v from 'valibot';
import { MAX_ENVELOPE_BYTES, type MessageType } from '../envelope/envelope.ts';
import type { Result } from '../result.ts';
import type { InvalidMessageError } from './errors.ts';
import type { TxId } from '../identity/ids.ts';
import {
  accountId,
  amount,
  bytes,
  decoderFor,
  hash,
  positiveAmount,
  sequence,
  taskId,
  text,
  timestamp,
  version,
} from './fields.ts';

export const grantSchema = v.strictObject({
  v: version,
  net: accountId,
  to: accountId,
  amount: positiveAmount,
  /** The onboarding proof-of-work solved by `to` for this network. */
  pow: v.strictObject({
    nonce: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    difficulty: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(64)),
  }),
});

export const transferSchema = v.strictObject({
  v: version,
  net: accountId,
  to: accountId,
  amount: positiveAmount,
  seq: sequence,
  memo: v.exactOptional(text(140)),
});

export const escrowSchema = v.strictObject({
  v: version,
  net: accountId,
  /** The requester's signed task envelope; its `maxPrice` is escrowed. */
  task: bytes(MAX_ENVELOPE_BYTES, 1),
});

export const settleSchema = v.strictObject({
  v: version,
  net: accountId,
  task: taskId,
  /** The worker's signed receipt envelope for `task`. */
  receipt: bytes(MAX_ENVELOPE_BYTES, 1),
  /** What the task cost; at most the escrow. The rest goes back to the requester. */
  price: amount,
});

export const REFUND_REASONS = ['cancelled', 'failed', 'expired'] as const;

export const refundSchema = v.strictObject({
  v: version,
  net: accountId,
  task: taskId,
  reason: v.picklist(REFUND_REASONS),
});

export const stakeSchema = v.strictObject({
  v: version,
  net: accountId,
  amount: positiveAmount,
  seq: sequence,
});

/**
 * Takes `amount` out of the stake. Where the genesis sets an unbonding period
 * (`unbondingMs`), the amount is not spendable at once: it is unbonding, still
 * slashable, until the relay releases it with a `tx/release` once the period
 * has passed (see ../ledger/state.ts).
 */
export const unstakeSchema = stakeSchema;

export const slashSchema = v.strictObject({
  v: version,
  net: accountId,
  worker: accountId,
  task: taskId,
  amount: positiveAmount,
  /** The worker's own signed receipt whose output was proven wrong. */
  evidence: bytes(MAX_ENVELOPE_BYTES, 1),
});

/**
 * The end of one unstake's unbonding period: what is left of it (after any
 * slash) goes to `account`'s spendable balance. `ts` is when the relay
 * released it; the ledger accepts it only if `ts` is at least the unbonding
 * period after the block that holds the unstake, and the chain only if the
 * block holding the release is no earlier than `ts` (../ledger/chain.ts), so
 * the time is checked against block times, not taken on trust.
 */
export const releaseSchema = v.strictObject({
  v: version,
  net: accountId,
  account: accountId,
  /** The id of the `tx/unstake` whose amount is released. */
  unstake: hash as unknown as v.CustomSchema<TxId, undefined>,
  amount: positiveAmount,
  ts: timestamp,
});

export type GrantPayload = v.InferOutput<typeof grantSchema>;
export type TransferPayload = v.InferOutput<typeof transferSchema>;
export type EscrowPayload = v.InferOutput<typeof escrowSchema>;
export type SettlePayload = v.InferOutput<typeof settleSchema>;
export type RefundPayload = v.InferOutput<typeof refundSchema>;
export type StakePayload = v.InferOutput<typeof stakeSchema>;
export type UnstakePayload = v.InferOutput<typeof unstakeSchema>;
export type SlashPayload = v.InferOutput<typeof slashSchema>;
export type ReleasePayload = v.InferOutput<typeof releaseSchema>;

/** Maps each transaction message type to its payload type. */
export interface TransactionPayloads {
  'tx/grant': GrantPayload;
  'tx/transfer': TransferPayload;
  'tx/escrow': EscrowPayload;
  'tx/settle': SettlePayload;
  'tx/refund': RefundPayload;
  'tx/stake': StakePayload;
  'tx/unstake': UnstakePayload;
  'tx/slash': SlashPayload;
  'tx/release': ReleasePayload;
}
export type TransactionType = keyof TransactionPayloads & MessageType;

export const TRANSACTION_TYPES = [
  'tx/grant',
  'tx/transfer',
  'tx/escrow',
  'tx/settle',
  'tx/refund',
  'tx/stake',
  'tx/unstake',
  'tx/slash',
  'tx/release',
] as const satisfies readonly TransactionType[];

type Decoders = { [K in TransactionType]: (value: unknown) => Result<TransactionPayloads[K], InvalidMessageError> };

export const transactionDecoders: Decoders = {
  'tx/grant': decoderFor('grant', grantSchema),
  'tx/transfer': decoderFor('transfer', transferSchema),
  'tx/escrow': decoderFor('escrow', escrowSchema),
  'tx/settle': decoderFor('settle', settleSchema),
  'tx/refund': decoderFor('refund', refundSchema),
  'tx/stake': decoderFor('stake', stakeSchema),
  'tx/unstake': decoderFor('unstake', unstakeSchema),
  'tx/slash': decoderFor('slash', slashSchema),
  'tx/release': decoderFor('release', releaseSchema),
};

export function isTransactionType(type: string): type is TransactionType {
  return (TRANSACTION_TYPES as readonly string[]).includes(type);
}
