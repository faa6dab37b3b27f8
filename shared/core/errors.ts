/**
 * Every error that can cross a module or the wire carries a stable `code`.
 * Callers tell errors apart by `name` (one class per condition) or `code`,
 * never by message text; the relay maps `name` to an HTTP status in one place.
 */
export type ErrorCode =
  // encoding and envelopes
  | 'malformed-encoding'
  | 'non-canonical-encoding'
  | 'too-large'
  | 'invalid-message'
  | 'wrong-message-type'
  | 'bad-signature'
  | 'clock-skew'
  | 'invalid-id'
  // ledger transactions
  | 'wrong-network'
  | 'unauthorized'
  | 'invalid-amount'
  | 'insufficient-funds'
  | 'insufficient-stake'
  | 'bad-sequence'
  | 'already-granted'
  | 'invalid-proof-of-work'
  | 'duplicate-escrow'
  | 'unknown-escrow'
  | 'escrow-closed'
  | 'receipt-mismatch'
  | 'price-above-escrow'
  | 'already-slashed'
  | 'still-unbonding'
  | 'unknown-unbond'
  | 'too-many-unbonds'
  // blocks and chains
  | 'invalid-block'
  | 'invalid-chain'
  // models
  | 'model-hash-mismatch'
  | 'invalid-model'
  | 'invalid-model-input'
  // text generation
  | 'invalid-sampling'
  | 'invalid-prompt'
  | 'model-output'
  // the interactive path's assignments and fallback requests
  | 'invalid-assignment'
  | 'assignment-expired'
  | 'wrong-worker'
  | 'wrong-task'
  | 'invalid-fallback'
  // task lifecycle and resources
  | 'illegal-transition'
  | 'invalid-allocation';

/** Base class of the project's typed errors. */
export abstract class AcnError extends Error {
  abstract readonly code: ErrorCode;
}
