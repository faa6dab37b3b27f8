/**
 * The genesis message: the relay's signed statement of its network's rules.
 * The network id is the relay's account id; block 1 points back to it.
 */
import * as v from 'valibot';
import { signEnvelope, type SignedMessage } from '../envelope/envelope.ts';
import type { Signer } from '../identity/signer.ts';
import { accountId, amount, decoderFor, positiveAmount, timestamp, version } from '../messages/fields.ts';

/**
 * The default unbonding period: one hour. Stake must stay slashable for as
 * long as a lie can still be found out, and every check the relay makes of an
 * answer ends before that answer is settled. The longest chain of them, at
 * the relay's defaults: a direct task's receipt may come up to 25 s after its
 * assignment (relay/server/task-service/direct-path.ts: 20 s assignment, 5 s
 * grace); a canary on the same worker and a re-check on a second worker each
 * wait up to the 15 s worker timeout (task-service/task-runner.ts), and a
 * third, deciding run on the relay's pool waits behind at most 64 queued runs
 * (relay/node/pool). That is about a minute of timeouts plus the pool's
 * queue; an hour leaves room for a slow pool, a restart in between and
 * evidence brought from a peer relay, while a worker leaving still gets its
 * tokens the same day. Counting from the unstake's block, not from the lie,
 * only lengthens the margin: a worker that lies and unstakes at once is still
 * unbonding when the check lands.
 */
export const DEFAULT_UNBONDING_MS = 60 * 60_000;
/** The longest unbonding period a genesis may set: 30 days. */
export const MAX_UNBONDING_MS = 30 * 24 * 60 * 60_000;

export const ledgerParamsSchema = v.strictObject({
  /** The relay's fee on each settlement, in basis points (1/100 of a percent), at most 50%. */
  feeBps: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(5000)),
  /** Tokens minted to each onboarded account. */
  grantAmount: positiveAmount,
  /** The least proof-of-work difficulty a grant may carry, in bits. */
  minPowDifficulty: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(64)),
  /** Stake a worker must hold to be paid for work. */
  minWorkerStake: amount,
  /**
   * How long unstaked tokens stay unbonding (still slashable, not spendable)
   * before the relay releases them, in ms, counted from the time of the block
   * that holds the unstake. 0 releases at once. A genesis written before this
   * rule existed has no such field and reads as 0: its chain was made with
   * instant unstakes and must replay to the same balances.
   */
  unbondingMs: v.exactOptional(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_UNBONDING_MS))),
});
export type LedgerParams = v.InferOutput<typeof ledgerParamsSchema>;

export const DEFAULT_LEDGER_PARAMS: LedgerParams = {
  feeBps: 500,
  grantAmount: 1_000_000,
  minPowDifficulty: 18,
  minWorkerStake: 10_000,
  unbondingMs: DEFAULT_UNBONDING_MS,
};

/** The unbonding period `params` set; 0 (instant unstakes) for a genesis that predates the rule. */
export function unbondingMsOf(params: LedgerParams): number {
  return params.unbondingMs ?? 0;
}

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
