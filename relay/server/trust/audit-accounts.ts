/**
 * The relay's own requester accounts, which sign its audit tasks: canaries
 * and re-checks by a second worker. An audit task must look like any other
 * task to the worker that gets it, so it cannot be signed with the relay's
 * network key (every worker knows that one): it is signed by one of a few
 * accounts derived from the relay key, onboarded like any account (a solved
 * proof-of-work and the network's grant), whose balance escrows the task and
 * pays an honest worker for it like any requester's.
 *
 * The keys are derived (HKDF-SHA256 of the relay's seed), so a restarted
 * relay finds the same accounts, already granted.
 */
import { hkdfSync } from 'node:crypto';
import type { AccountId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { solvePow } from '#core/pow/pow.ts';
import { createNodeSigner } from '#node/crypto/node-signer.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';

/** How many audit accounts a relay holds. */
export const DEFAULT_AUDIT_ACCOUNTS = 4;

/** The audit signers of the relay whose secret seed is `seed`: the same ones on every start. */
export function deriveAuditSigners(seed: Uint8Array, count = DEFAULT_AUDIT_ACCOUNTS): Signer[] {
  return Array.from({ length: count }, (_, i) =>
    createNodeSigner(new Uint8Array(hkdfSync('sha256', seed, 'acn/v1', `audit-account/${i}`, 32))),
  );
}

export interface AuditAccountsInit {
  readonly ledger: Pick<LedgerService, 'account' | 'submitSigned' | 'network' | 'params'>;
  readonly signers: readonly Signer[];
  /** Default `Math.random`. */
  readonly random?: () => number;
  /** Told when an account could not be onboarded. */
  readonly onError?: (error: unknown) => void;
}

export interface PickAuditorOptions {
  readonly signal?: AbortSignal;
}

export interface AuditAccounts {
  /**
   * An audit account whose balance covers `amount`, chosen at random; the
   * first call onboards the accounts that have no grant yet. Undefined when
   * none can pay.
   */
  pick(amount: number, options?: PickAuditorOptions): Promise<Signer | undefined>;
  /** Whether `account` is one of the relay's audit accounts. */
  has(account: AccountId): boolean;
}

export function createAuditAccounts(init: AuditAccountsInit): AuditAccounts {
  const { ledger, signers } = init;
  const random = init.random ?? Math.random;
  const ids = new Set(signers.map((s) => s.accountId));
  const onboarding = new Map<AccountId, Promise<void>>();

  async function onboard(signer: Signer): Promise<void> {
    const difficulty = ledger.params.minPowDifficulty;
    const pow = await solvePow({ network: ledger.network, publicKey: signer.publicKey, difficulty });
    const granted = await ledger.submitSigned('tx/grant', {
      to: signer.accountId,
      amount: ledger.params.grantAmount,
      pow,
    });
    if (!granted.ok && granted.error.name !== 'AlreadyGrantedError') throw granted.error;
  }

  /** Starts onboarding every account without a grant (once each); each promise settles when its account is done. */
  function onboardMissing(): Promise<void>[] {
    const started: Promise<void>[] = [];
    for (const signer of signers) {
      if (ledger.account(signer.accountId).granted || onboarding.has(signer.accountId)) continue;
      // Never rejects: a failure is reported, and the account is tried again on a later pick.
      const run = onboard(signer).catch((error: unknown) => {
        onboarding.delete(signer.accountId);
        init.onError?.(error);
      });
      onboarding.set(signer.accountId, run);
      started.push(run);
    }
    return started;
  }

  const funded = (amount: number): Signer[] => signers.filter((s) => ledger.account(s.accountId).balance >= amount);

  return {
    async pick(amount, options = {}) {
      const started = onboardMissing();
      if (funded(amount).length === 0 && started.length > 0) {
        options.signal?.throwIfAborted();
        await Promise.all(started);
      }
      const able = funded(amount);
      return able.length === 0 ? undefined : able[Math.floor(random() * able.length)];
    },
    has: (account) => ids.has(account),
  };
}
