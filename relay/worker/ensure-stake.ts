/**
 * Getting a worker's account ready to be paid: the relay gives paid work only
 * to accounts holding its minimum stake. A new account first solves the
 * onboarding proof-of-work and receives the grant; then the worker stakes
 * what is missing up to `stake`. Both go through the SDK, signed with the
 * worker's key, so they are ordinary ledger transactions anyone can audit.
 */
import { solvePow } from '#core/pow/pow.ts';
import type { AccountBalance, AIComputeClient } from '#client/sdk/index.ts';
import { StakeUnavailableError } from './errors.ts';

export interface EnsureStakeOptions {
  /** The raw public key of the client's signer (the onboarding puzzle is bound to it). */
  readonly publicKey: Uint8Array;
  /** The stake to hold, in tokens; 0 skips onboarding and staking. */
  readonly stake: number;
  readonly signal?: AbortSignal;
  /** Told what happens (onboarding, staking), for the log. */
  readonly onStep?: (step: { readonly step: 'onboarded' | 'staked'; readonly amount: number }) => void;
}

/**
 * Onboards the client's account if it has no grant yet, then tops its stake
 * up to `stake`. Resolves to the balance afterwards. Throws
 * {@link StakeUnavailableError} when the balance cannot cover the stake.
 */
export async function ensureStake(client: AIComputeClient, options: EnsureStakeOptions): Promise<AccountBalance> {
  const { signal } = options;
  let balance = await client.balance(undefined, { signal });
  if (options.stake <= balance.stake) return balance;
  if (!balance.granted) {
    const puzzle = await client.onboardPuzzle({ signal });
    const pow = await solvePow(
      { network: puzzle.network, publicKey: options.publicKey, difficulty: puzzle.difficulty },
      signal === undefined ? {} : { signal },
    );
    const onboarded = await client.onboard(pow, { signal });
    options.onStep?.({ step: 'onboarded', amount: onboarded.balance });
    balance = await client.balance(undefined, { signal });
  }
  const missing = options.stake - balance.stake;
  if (missing > balance.balance) {
    throw new StakeUnavailableError(
      `account ${balance.account} holds ${balance.balance} tokens and ${balance.stake} staked; ` +
        `it needs ${missing} more to stake ${options.stake} (send it tokens, or lower --stake)`,
    );
  }
  await client.stake(missing, { signal });
  options.onStep?.({ step: 'staked', amount: missing });
  return client.balance(undefined, { signal });
}
