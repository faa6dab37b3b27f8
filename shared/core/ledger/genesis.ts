/**
 * The genesis message: the relay's signed statement of its network's rules.
 * The network id is the relay's account id; block 1 points back to it.
 */
import * as v from 'valibot';
import { signEnvelope, type SignedMessage } from '../envelope/envelope.ts';
import type { Signer } from '../identity/signer.ts';
import { accountId, amount, decoderFor, positiveAmount, timestamp, version } from '../messages/fields.ts';

export const ledgerParamsSchema = v.strictObject({
  /** The relay's fee on each settlement, in basis points (1/100 of a percent), at most 50%. */
  feeBps: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(5000)),
  /** Tokens minted to each onboarded account. */
  grantAmount: positiveAmount,
  /** The least proof-of-work difficulty a grant may carry, in bits. */
  minPowDifficulty: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(64)),
  /** Stake a worker must hold to be paid for work. */
  minWorkerStake: amount,
});
export type LedgerParams = v.InferOutput<typeof ledgerParamsSchema>;

export const DEFAULT_LEDGER_PARAMS: LedgerParams = {
  feeBps: 500,
  grantAmount: 1_000_000,
  minPowDifficulty: 18,
  minWorkerStake: 10_000,
};

export const genesisPayloadSchema = v.strictObject({
  v: version,
  net: accountId,
  params: ledgerParamsSchema,
  ts: timestamp,
});
export type GenesisPayload = v.InferOutput<typeof genesisPayloadSchema>;
export const decodeGenesisPayload = decoderFor('genesis', genesisPayloadSchema);
export type GenesisMessage = SignedMessage<'genesis', GenesisPayload>;

/** Signs a genesis message: the relay's key becomes the network's authority. */
export function signGenesis(relay: Signer, params: LedgerParams, ts: number) {
  const payload: GenesisPayload = { v: 1, net: relay.accountId, params, ts };
  return signEnvelope(relay, 'genesis', payload);
}
