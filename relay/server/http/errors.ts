/**
 * HTTP errors: one place maps every typed error to its status, and every error
 * leaves as `{ error: { code, message } }`. Nothing else in the relay picks
 * status codes for failures: the errors themselves carry a `code`, and
 * {@link STATUS_BY_CODE} gives each code its status.
 */
import type { ErrorRequestHandler, Request } from 'express';
import { AcnError, type ErrorCode } from '#core/errors.ts';
import { LedgerServiceError, type LedgerServiceErrorCode } from '../ledger/errors.ts';
import { InferencePoolError, type InferencePoolErrorCode } from '#node/pool/errors.ts';
import { TaskServiceError, type TaskServiceErrorCode } from '../task-service/errors.ts';

export type HttpErrorCode =
  | 'not-found'
  | 'rate-limited'
  | 'not-ready'
  | 'bad-request'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'no-result'
  // 401 from operator-only endpoints (operator-auth.ts); the ledger's own `unauthorized` (403) is a signed tx the rules refuse.
  | 'unauthorized'
  // 409: a signed operator control sent a second time.
  | 'replayed'
  | 'internal';

/** An error raised by the HTTP layer itself (not by the protocol): the one kind that names its status. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly code: HttpErrorCode;
  readonly status: number;
  constructor(status: number, code: HttpErrorCode, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Every code a typed error that reaches the HTTP layer can carry. */
export type RelayErrorCode = ErrorCode | LedgerServiceErrorCode | InferencePoolErrorCode | TaskServiceErrorCode;

/**
 * The status of each error code. Exhaustive over {@link RelayErrorCode}: a
 * new code without a status fails the typecheck. A code shared by two
 * families (`not-running`, `forbidden`, `invalid-fallback`,
 * `assignment-expired`) means the same refusal in each.
 */
export const STATUS_BY_CODE = {
  // The protocol core (shared/core/errors.ts): encoding and envelopes.
  'malformed-encoding': 400,
  'non-canonical-encoding': 400,
  'too-large': 413,
  'invalid-message': 400,
  'wrong-message-type': 400,
  'bad-signature': 401,
  'clock-skew': 400,
  'invalid-id': 400,
  // Ledger transactions.
  'wrong-network': 400,
  unauthorized: 403,
  'invalid-amount': 400,
  'insufficient-funds': 402,
  'insufficient-stake': 402,
  'bad-sequence': 409,
  'already-granted': 409,
  'invalid-proof-of-work': 400,
  'duplicate-escrow': 409,
  'unknown-escrow': 404,
  'escrow-closed': 409,
  'receipt-mismatch': 400,
  'price-above-escrow': 400,
  'already-slashed': 409,
  'still-unbonding': 409,
  'unknown-unbond': 404,
  'too-many-unbonds': 409,
  // Blocks and chains.
  'invalid-block': 400,
  'invalid-chain': 400,
  // Models.
  'model-hash-mismatch': 400,
  'invalid-model': 400,
  'invalid-model-input': 400,
  'invalid-sampling': 400,
  'invalid-prompt': 400,
  'model-output': 500,
  // The interactive path's messages; the relay answers `assignment-expired` only for a late receipt (below).
  'invalid-assignment': 400,
  'wrong-worker': 400,
  'wrong-task': 400,
  // Task life cycle and resources.
  'illegal-transition': 409,
  'invalid-allocation': 400,
  // The relay's ledger service (relay/server/ledger/errors.ts); `not-running` also the pool's.
  'duplicate-tx': 409,
  'negative-account': 500,
  'out-of-order': 500,
  'store-closed': 500,
  'store-failed': 500,
  'commit-failed': 503,
  'not-running': 503,
  aborted: 503,
  'genesis-mismatch': 500,
  'corrupt-ledger': 500,
  // The relay's inference pool (relay/node/pool/errors.ts).
  'pool-busy': 503,
  'unknown-model': 404,
  'worker-crashed': 500,
  'inference-failed': 500,
  // The relay's task service (relay/server/task-service/errors.ts).
  'unknown-task': 404,
  'input-mismatch': 400,
  'price-too-low': 402,
  'not-cancellable': 409,
  'not-stoppable': 409,
  'too-many-streams': 503,
  forbidden: 403,
  // Its direct path (`DirectPathError`).
  'not-direct': 409,
  'direct-closed': 409,
  'already-answered': 409,
  'assignment-expired': 409,
  'bad-receipt': 400,
  'wrong-signer': 403,
  'output-mismatch': 400,
  'worker-unstaked': 409,
  'invalid-fallback': 400,
} as const satisfies Readonly<Record<RelayErrorCode, number>>;

/** The status of `code`, or `fallback` for a code outside the table (an error whose class lies about its type). */
function statusOf(code: string, fallback: number): number {
  return Object.hasOwn(STATUS_BY_CODE, code) ? STATUS_BY_CODE[code as RelayErrorCode] : fallback;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** The status and JSON body for any thrown or returned error. Unknown errors are a 500 that hides details. */
export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError)
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof AcnError) {
    return { status: statusOf(error.code, 400), body: { error: { code: error.code, message: error.message } } };
  }
  if (error instanceof LedgerServiceError || error instanceof InferencePoolError || error instanceof TaskServiceError) {
    const status = statusOf(error.code, 500);
    // A 500 keeps its details in the log, not in the answer.
    const message = status >= 500 && status !== 503 ? 'the relay failed to run the task; try again' : error.message;
    return { status, body: { error: { code: error.code, message } } };
  }
  // body-parser's errors carry a status and a type.
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: HttpErrorCode =
      status === 413 ? 'payload-too-large' : status === 415 ? 'unsupported-media-type' : 'bad-request';
    const message = status === 413 ? 'the request body is too large' : 'the request body could not be read';
    return { status, body: { error: { code, message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'internal', message: 'internal error; the relay logged the details' } },
  };
}

/**
 * The express error handler: answers with {@link toHttpError}'s status and
 * body, and hands 5xx errors to `onServerError` (the relay logs them).
 */
export function errorHandler(
  onServerError: (error: unknown, req: Request) => void = () => undefined,
): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const { status, body } = toHttpError(error);
    if (status >= 500) onServerError(error, req);
    res.status(status).json(body);
  };
}
