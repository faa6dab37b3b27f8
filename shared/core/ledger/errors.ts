/** Why a transaction, block or chain was refused. One class per condition. */
import { AcnError, type ErrorCode } from '../errors.ts';

export class WrongNetworkError extends AcnError {
  override readonly name = 'WrongNetworkError';
  readonly code = 'wrong-network';
}
/** The signer may not make this transaction (only the relay grants, escrows, settles, refunds, slashes and releases). */
export class UnauthorizedError extends AcnError {
  override readonly name = 'UnauthorizedError';
  readonly code = 'unauthorized';
}
export class InvalidAmountError extends AcnError {
  override readonly name = 'InvalidAmountError';
  readonly code = 'invalid-amount';
}
export class InsufficientFundsError extends AcnError {
  override readonly name = 'InsufficientFundsError';
  readonly code = 'insufficient-funds';
}
export class InsufficientStakeError extends AcnError {
  override readonly name = 'InsufficientStakeError';
  readonly code = 'insufficient-stake';
}
/** An account transaction whose `seq` is not the next one: a replay, or out of order. */
export class BadSequenceError extends AcnError {
  override readonly name = 'BadSequenceError';
  readonly code = 'bad-sequence';
}
export class AlreadyGrantedError extends AcnError {
  override readonly name = 'AlreadyGrantedError';
  readonly code = 'already-granted';
}
export class InvalidProofOfWorkError extends AcnError {
  override readonly name = 'InvalidProofOfWorkError';
  readonly code = 'invalid-proof-of-work';
}
export class DuplicateEscrowError extends AcnError {
  override readonly name = 'DuplicateEscrowError';
  readonly code = 'duplicate-escrow';
}
export class UnknownEscrowError extends AcnError {
  override readonly name = 'UnknownEscrowError';
  readonly code = 'unknown-escrow';
}
/** The escrow was already settled or refunded. */
export class EscrowClosedError extends AcnError {
  override readonly name = 'EscrowClosedError';
  readonly code = 'escrow-closed';
}
/** A receipt does not belong to the task, model or worker it is offered for. */
export class ReceiptMismatchError extends AcnError {
  override readonly name = 'ReceiptMismatchError';
  readonly code = 'receipt-mismatch';
}
export class PriceAboveEscrowError extends AcnError {
  override readonly name = 'PriceAboveEscrowError';
  readonly code = 'price-above-escrow';
}
export class AlreadySlashedError extends AcnError {
  override readonly name = 'AlreadySlashedError';
  readonly code = 'already-slashed';
}

/** A release before its unbonding period has passed, or before a block holds its unstake. */
export class StillUnbondingError extends AcnError {
  override readonly name = 'StillUnbondingError';
  readonly code = 'still-unbonding';
}
/** A release of an unstake that is not unbonding: unknown, released already, or slashed to nothing. */
export class UnknownUnbondError extends AcnError {
  override readonly name = 'UnknownUnbondError';
  readonly code = 'unknown-unbond';
}
/** An unstake while the account already has the most unstakes unbonding at once. */
export class TooManyUnbondsError extends AcnError {
  override readonly name = 'TooManyUnbondsError';
  readonly code = 'too-many-unbonds';
}

export type LedgerError =
  | WrongNetworkError
  | UnauthorizedError
  | InvalidAmountError
  | InsufficientFundsError
  | InsufficientStakeError
  | BadSequenceError
  | AlreadyGrantedError
  | InvalidProofOfWorkError
  | DuplicateEscrowError
  | UnknownEscrowError
  | EscrowClosedError
  | ReceiptMismatchError
  | PriceAboveEscrowError
  | AlreadySlashedError
  | StillUnbondingError
  | UnknownUnbondError
  | TooManyUnbondsError;

export class InvalidBlockError extends AcnError {
  override readonly name = 'InvalidBlockError';
  readonly code = 'invalid-block';
}

/** A chain failed to replay: where, and the code of the underlying error. */
export class InvalidChainError extends AcnError {
  override readonly name = 'InvalidChainError';
  readonly code = 'invalid-chain';
  /** Height of the offending block; 0 for the genesis message. */
  readonly height: number;
  /** Index of the offending transaction in its block, when a transaction is at fault. */
  readonly txIndex: number | undefined;
  readonly reason: ErrorCode;

  constructor(height: number, txIndex: number | undefined, cause: AcnError) {
    super(`block ${height}${txIndex === undefined ? '' : ` tx ${txIndex}`}: ${cause.message}`, { cause });
    this.height = height;
    this.txIndex = txIndex;
    this.reason = cause.code;
  }
}
