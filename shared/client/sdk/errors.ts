/**
 * The SDK's errors: one class per condition, each with a stable `code`.
 * Callers (the offline outbox above all) tell a failure worth retrying from a
 * permanent one with {@link isRetryable}, never by message text.
 */
import type { AccountId } from '#core/identity/ids.ts';
import type { TaskView } from '#core/api/responses.ts';
import type { VerificationReport } from './verify-result.ts';

export type SdkErrorCode =
  | 'relay-unreachable'
  | 'relay-key-mismatch'
  | 'invalid-response'
  | 'no-signer'
  | 'task-failed'
  | 'header-chain'
  | 'subscription-closed'
  | 'not-verified';

/** Base class of the errors the SDK raises itself (the relay's own errors are {@link RelayApiError}). */
export abstract class SdkError extends Error {
  abstract readonly code: SdkErrorCode;
}

/**
 * The relay answered with an error: its `{ error: { code, message } }` body
 * and the HTTP status. `code` is the relay's stable code (for example
 * `insufficient-funds`, `unknown-model`, `bad-sequence`).
 */
export class RelayApiError extends Error {
  override readonly name = 'RelayApiError';
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The relay could not be reached (offline, DNS, connection refused or reset, request timed out). */
export class RelayUnreachableError extends SdkError {
  override readonly name = 'RelayUnreachableError';
  readonly code = 'relay-unreachable';
}

/**
 * The relay (or a block header it served) shows a key other than the pinned
 * one: this is not the relay the user joined, or its key was replaced.
 * Nothing should be sent to it.
 */
export class RelayKeyMismatchError extends SdkError {
  override readonly name = 'RelayKeyMismatchError';
  readonly code = 'relay-key-mismatch';
  readonly pinned: AccountId;
  readonly actual: string;
  constructor(pinned: AccountId, actual: string, where: string) {
    super(
      `${where} shows relay key ${actual}, but this client is pinned to ${pinned}: ` +
        'this is not the relay you joined (or its key changed); refusing to talk to it',
    );
    this.pinned = pinned;
    this.actual = actual;
  }
}

/** The relay's answer is not what the API documents (a proxy's error page, a truncated body, a wrong shape). */
export class InvalidRelayResponseError extends SdkError {
  override readonly name = 'InvalidRelayResponseError';
  readonly code = 'invalid-response';
}

/** The call signs something, and the client was created without a signer. */
export class NoSignerError extends SdkError {
  override readonly name = 'NoSignerError';
  readonly code = 'no-signer';
}

/** The task ended without a result (it failed, or was cancelled); its escrow was refunded. */
export class TaskFailedError extends SdkError {
  override readonly name = 'TaskFailedError';
  readonly code = 'task-failed';
  readonly task: TaskView;
  constructor(task: TaskView) {
    super(`task ${task.id} ended ${task.state} without a result` + (task.error ? `: ${task.error.message}` : ''));
    this.task = task;
  }
}

/**
 * The relay served block headers that do not form one chain with the headers
 * this client kept (a header at a known height that differs, or a `prev` that
 * does not match): the relay rewrote its history.
 */
export class HeaderChainError extends SdkError {
  override readonly name = 'HeaderChainError';
  readonly code = 'header-chain';
}

/** The event subscription was closed before it opened. */
export class SubscriptionClosedError extends SdkError {
  override readonly name = 'SubscriptionClosedError';
  readonly code = 'subscription-closed';
}

/**
 * A result that did not pass its checks (see `verifyResult`), or whose
 * output or price is not what its receipt and the catalogue say: it is not
 * handed out as a result. `report` names each check, when the light-client
 * checks ran.
 */
export class ResultNotVerifiedError extends SdkError {
  override readonly name = 'ResultNotVerifiedError';
  readonly code = 'not-verified';
  readonly report: VerificationReport | undefined;
  constructor(message: string, report?: VerificationReport) {
    super(message);
    this.report = report;
  }
}

/** Statuses worth another try later: the relay is busy, starting, stopping or behind a failing proxy. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * True when the same request may succeed later unchanged: the relay was
 * unreachable, timed out, or answered busy/starting/5xx, or its answer was
 * garbled (a captive portal or proxy page). False for permanent refusals
 * (bad signature, insufficient funds, unknown model...), for a relay with the
 * wrong key, and for a caller's own abort.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof RelayUnreachableError || error instanceof InvalidRelayResponseError) return true;
  if (error instanceof RelayApiError) return RETRYABLE_STATUSES.has(error.status);
  // AbortSignal.timeout() rejects with a TimeoutError DOMException.
  return error instanceof Error && error.name === 'TimeoutError';
}
