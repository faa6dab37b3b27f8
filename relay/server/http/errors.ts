/**
 * HTTP errors: one place maps every typed error to its status, and every error
 * leaves as `{ error: { code, message } }`. Nothing else in the relay picks
 * status codes for failures.
 */
import type { ErrorRequestHandler, Request } from 'express';
import { AcnError } from '#core/errors.ts';
import { LedgerServiceError } from '../ledger/errors.ts';
import { InferencePoolError } from '#node/pool/errors.ts';
import { TaskServiceError } from '../task-service/errors.ts';

export type HttpErrorCode =
  | 'not-found'
  | 'rate-limited'
  | 'not-ready'
  | 'bad-request'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'no-result'
  | 'internal';

/** An error raised by the HTTP layer itself (not by the protocol). */
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

/** Status of each typed protocol error, by `name`. */
const STATUS_BY_NAME: Readonly<Record<string, number>> = {
  MalformedEncodingError: 400,
  NonCanonicalEncodingError: 400,
  InvalidMessageError: 400,
  InvalidIdError: 400,
  WrongMessageTypeError: 400,
  InvalidModelInputError: 400,
  InvalidAllocationError: 400,
  InvalidModelError: 400,
  TooLargeError: 413,
  BadSignatureError: 401,
  ClockSkewError: 400,
  WrongNetworkError: 400,
  UnauthorizedError: 403,
  InvalidAmountError: 400,
  InvalidProofOfWorkError: 400,
  InsufficientFundsError: 402,
  InsufficientStakeError: 402,
  BadSequenceError: 409,
  AlreadyGrantedError: 409,
  DuplicateEscrowError: 409,
  EscrowClosedError: 409,
  AlreadySlashedError: 409,
  ReceiptMismatchError: 400,
  PriceAboveEscrowError: 400,
  UnknownEscrowError: 404,
  IllegalTransitionError: 409,
  ModelHashMismatchError: 400,
  // The relay's ledger service (relay/ledger/errors.ts).
  DuplicateTxError: 409,
  CommitFailedError: 503,
  LedgerNotRunningError: 503,
  SubmitAbortedError: 503,
  // The relay's inference pool (relay/node/pool/errors.ts).
  PoolBusyError: 503,
  PoolNotRunningError: 503,
  UnknownModelError: 404,
  WorkerCrashedError: 500,
  InferenceFailedError: 500,
  // The relay's task service (relay/server/task-service/errors.ts).
  UnknownTaskError: 404,
  InputMismatchError: 400,
  PriceTooLowError: 402,
  NotCancellableError: 409,
  ForbiddenError: 403,
};

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** The status and JSON body for any thrown or returned error. Unknown errors are a 500 that hides details. */
export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError)
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof AcnError) {
    return { status: STATUS_BY_NAME[error.name] ?? 400, body: { error: { code: error.code, message: error.message } } };
  }
  if (error instanceof LedgerServiceError || error instanceof InferencePoolError || error instanceof TaskServiceError) {
    const status = STATUS_BY_NAME[error.name] ?? 500;
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
