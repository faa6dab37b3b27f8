/**
 * Why the relay's ledger refused to store, commit or start. One class per
 * condition, told apart by `name` or `code`, never by message text.
 *
 * These extend `Error` rather than the core's `AcnError` because their codes
 * belong to the relay (storage and service life cycle), not to the protocol's
 * `ErrorCode` union in `shared/errors.ts`.
 */

/** Every code a ledger store or the ledger service can report. */
export type LedgerServiceErrorCode =
  | 'duplicate-tx'
  | 'negative-account'
  | 'out-of-order'
  | 'store-closed'
  | 'store-failed'
  | 'commit-failed'
  | 'not-running'
  | 'aborted'
  | 'genesis-mismatch'
  | 'corrupt-ledger';

/** Base class of the relay ledger's typed errors. */
export abstract class LedgerServiceError extends Error {
  abstract readonly code: LedgerServiceErrorCode;
}

/** A store already holds a transaction with this id (the unique index on tx id). */
export class DuplicateTxError extends LedgerServiceError {
  override readonly name = 'DuplicateTxError';
  readonly code = 'duplicate-tx';
}

/** An account row would hold a negative balance or stake (the store's CHECK constraints). */
export class NegativeAccountError extends LedgerServiceError {
  override readonly name = 'NegativeAccountError';
  readonly code = 'negative-account';
}

/**
 * An append does not follow what is stored: a transaction `seq` that is not the
 * next one, a block that is not the next height or does not cover the next
 * unblocked transactions, or a genesis written twice or missing.
 */
export class OutOfOrderAppendError extends LedgerServiceError {
  override readonly name = 'OutOfOrderAppendError';
  readonly code = 'out-of-order';
}

/** The store was closed. */
export class StoreClosedError extends LedgerServiceError {
  override readonly name = 'StoreClosedError';
  readonly code = 'store-closed';
}

/**
 * The store's own thread died: whether the call it was running took effect is
 * unknown, so the store refuses everything from then on (the relay restarts
 * and replays what is on disk).
 */
export class StoreFailedError extends LedgerServiceError {
  override readonly name = 'StoreFailedError';
  readonly code = 'store-failed';
}

/**
 * The durable append of a group of transactions failed, so none of them was
 * applied: the in-memory ledger was rolled back to the last committed state.
 * `cause` is the store's error.
 */
export class CommitFailedError extends LedgerServiceError {
  override readonly name = 'CommitFailedError';
  readonly code = 'commit-failed';
}

/** The ledger service is not started, or is stopping or stopped. */
export class LedgerNotRunningError extends LedgerServiceError {
  override readonly name = 'LedgerNotRunningError';
  readonly code = 'not-running';
}

/** The caller's signal was aborted before the transaction was accepted; nothing was applied. */
export class SubmitAbortedError extends LedgerServiceError {
  override readonly name = 'SubmitAbortedError';
  readonly code = 'aborted';
}

/** The stored genesis is for another relay key, or states other parameters than the configured ones. */
export class GenesisMismatchError extends LedgerServiceError {
  override readonly name = 'GenesisMismatchError';
  readonly code = 'genesis-mismatch';
}

/** The stored ledger does not replay: see `problems` (the same list `verifyLedger` reports). */
export class CorruptLedgerError extends LedgerServiceError {
  override readonly name = 'CorruptLedgerError';
  readonly code = 'corrupt-ledger';
  readonly problems: readonly { readonly code: string; readonly message: string }[];

  constructor(problems: readonly { readonly code: string; readonly message: string }[]) {
    super(`the stored ledger does not verify: ${problems.map((p) => p.message).join('; ')}`);
    this.problems = problems;
  }
}
