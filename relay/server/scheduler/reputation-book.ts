/**
 * A worker's reputation as the scheduler weighs it, 0 to 1000: the ledger's
 * (the long-term record, in blocks: +5 per settled task, −250 per slash) plus
 * what this relay has seen lately, kept in memory: verified work (a canary
 * passed, a re-check agreed) raises it, timeouts and bad answers lower it.
 * Those adjustments fade with a half-life, so a worker whose connection
 * dropped once is not shut out for good (a worker below the scheduler's
 * threshold gets no task, and so no chance to earn its way back).
 *
 * A worker convicted of a wrong answer scores 0 for as long as this relay
 * runs: the ledger's slash (stake and reputation) is what outlives a restart.
 */
import type { AccountId } from '#core/identity/ids.ts';
import type { WorkerFailureReason } from './errors.ts';

export const REPUTATION_MIN = 0;
export const REPUTATION_MAX = 1000;
/** A worker scoring below this gets no tasks (a new worker starts at 500; one slash takes it to 250). */
export const DEFAULT_MIN_REPUTATION = 300;
/** Gained per verified result. */
export const DEFAULT_VERIFIED_GAIN = 10;
/** Lost per failure, by reason. An `error` answer is the worker declining honestly (a model it lacks). */
export const DEFAULT_FAILURE_PENALTIES: Readonly<Record<WorkerFailureReason, number>> = {
  timeout: 25,
  unreachable: 25,
  'bad-receipt': 50,
  error: 0,
};
/** Default 1 hour. */
export const DEFAULT_ADJUSTMENT_HALF_LIFE_MS = 60 * 60_000;
/** The most the relay's own observations move a worker's reputation either way. */
export const DEFAULT_MAX_ADJUSTMENT = 250;

export interface ReputationBookInit {
  /** The ledger's reputation of an account (the committed one). */
  readonly ledgerReputation: (account: AccountId) => number;
  readonly now?: () => number;
  /** Default {@link DEFAULT_VERIFIED_GAIN}. */
  readonly verifiedGain?: number;
  /** Default {@link DEFAULT_FAILURE_PENALTIES}; reasons left out keep their default. */
  readonly failurePenalties?: Partial<Record<WorkerFailureReason, number>>;
  /** Default {@link DEFAULT_ADJUSTMENT_HALF_LIFE_MS}. */
  readonly halfLifeMs?: number;
  /** Default {@link DEFAULT_MAX_ADJUSTMENT}. */
  readonly maxAdjustment?: number;
}

export interface ReputationBook {
  /** The reputation the scheduler weighs, 0 to 1000 (0 once convicted). */
  score(account: AccountId): number;
  /** This relay's own adjustment now (already faded), for logs and tests. */
  adjustment(account: AccountId): number;
  /** A result of this worker was checked and found right. */
  recordVerified(account: AccountId): void;
  /** A dispatch to this worker failed. */
  recordFailure(account: AccountId, reason: WorkerFailureReason): void;
  /** This worker gave a proven wrong answer. */
  convict(account: AccountId): void;
  isConvicted(account: AccountId): boolean;
}

interface Adjustment {
  readonly value: number;
  readonly at: number;
}

export function createReputationBook(init: ReputationBookInit): ReputationBook {
  const now = init.now ?? Date.now;
  const gain = init.verifiedGain ?? DEFAULT_VERIFIED_GAIN;
  const penalties = { ...DEFAULT_FAILURE_PENALTIES, ...init.failurePenalties };
  const halfLifeMs = init.halfLifeMs ?? DEFAULT_ADJUSTMENT_HALF_LIFE_MS;
  const maxAdjustment = init.maxAdjustment ?? DEFAULT_MAX_ADJUSTMENT;
  const adjustments = new Map<AccountId, Adjustment>();
  const convicted = new Set<AccountId>();

  function current(account: AccountId): number {
    const entry = adjustments.get(account);
    if (entry === undefined) return 0;
    return entry.value * 2 ** (-Math.max(0, now() - entry.at) / halfLifeMs);
  }

  function adjust(account: AccountId, delta: number): void {
    const value = Math.min(maxAdjustment, Math.max(-maxAdjustment, current(account) + delta));
    adjustments.set(account, { value, at: now() });
  }

  return {
    score(account) {
      if (convicted.has(account)) return REPUTATION_MIN;
      const total = init.ledgerReputation(account) + current(account);
      return Math.min(REPUTATION_MAX, Math.max(REPUTATION_MIN, total));
    },
    adjustment: current,
    recordVerified(account) {
      adjust(account, gain);
    },
    recordFailure(account, reason) {
      if (penalties[reason] > 0) adjust(account, -penalties[reason]);
    },
    convict(account) {
      convicted.add(account);
    },
    isConvicted: (account) => convicted.has(account),
  };
}
