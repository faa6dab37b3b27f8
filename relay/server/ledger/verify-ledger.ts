/**
 * `npm run relay -- ledger verify`: replays a stored ledger from its genesis
 * and reports whether it is sound. Checks every signature, link, Merkle root
 * and transaction (the shared `replayChain`), the transactions stored after
 * the last block, the hash chain, and that every stored account row equals
 * the recomputed balance, stake, seq and reputation.
 */
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import type { LedgerStore } from './ledger-store.ts';
import { replayStore, type LedgerProblem } from './replay-store.ts';

export type { LedgerProblem, LedgerProblemCode } from './replay-store.ts';

export interface LedgerReport {
  /** True when no problem was found. */
  readonly ok: boolean;
  /** Height of the last block (0 when there is none, or when the chain does not replay). */
  readonly height: number;
  /** Transactions stored, in blocks or not. */
  readonly txCount: number;
  /** Everything minted by grants (0 when the chain does not replay). */
  readonly supply: number;
  readonly problems: readonly LedgerProblem[];
}

/**
 * Verifies everything in `store`. Never changes it. `verifier` defaults to
 * the native {@link createNodeVerifier}. Throws only when the store itself
 * cannot be read.
 */
export async function verifyLedger(
  store: LedgerStore,
  verifier: Ed25519Verifier = createNodeVerifier(),
): Promise<LedgerReport> {
  const replay = await replayStore(store, verifier);
  return {
    ok: replay.problems.length === 0,
    height: replay.ledger?.head.height ?? 0,
    txCount: replay.txCount,
    supply: replay.ledger?.state.supply ?? 0,
    problems: replay.problems,
  };
}
