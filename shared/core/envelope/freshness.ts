import { err, ok, type Result } from '../result.ts';
import { ClockSkewError } from './errors.ts';

export interface FreshnessWindow {
  /** How far in the future a timestamp may be. Default 2 minutes. */
  readonly maxFutureMs?: number;
  /** How old a timestamp may be. Default 24 hours (an offline outbox delivers late). */
  readonly maxAgeMs?: number;
}

export const DEFAULT_MAX_FUTURE_MS = 2 * 60_000;
export const DEFAULT_MAX_AGE_MS = 24 * 60 * 60_000;

/** Checks that a message timestamp (ms since the epoch) lies within the window around `now`. */
export function checkFreshness(ts: number, now: number, window: FreshnessWindow = {}): Result<number, ClockSkewError> {
  const maxFuture = window.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const maxAge = window.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (!Number.isSafeInteger(ts)) return err(new ClockSkewError('timestamp must be an integer'));
  if (ts > now + maxFuture) return err(new ClockSkewError(`timestamp is ${ts - now} ms in the future`));
  if (ts < now - maxAge) return err(new ClockSkewError(`timestamp is ${now - ts} ms old`));
  return ok(ts);
}
