/**
 * Request rate limits: an in-memory token bucket per key (an IP, an account)
 * with bounded memory, and the express glue that answers 429 with a
 * `Retry-After` header through the app's one error handler.
 *
 * Each key holds a bucket of `limit` tokens that refills evenly over
 * `windowMs`: a burst of `limit` requests passes at once, then one request per
 * `windowMs / limit` (kept as one timestamp per key, not a token count). A key that has been quiet for `windowMs` is full again,
 * which is the same as never having been seen, so evicting the least recently
 * used keys when `maxKeys` is reached only ever forgets the quietest callers.
 */
import { isIPv6 } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { HttpError } from './errors.ts';

export interface RateLimiterInit {
  /** Requests a key may make per window (also the largest burst). A whole number ≥ 1. */
  readonly limit: number;
  /** The window in ms: an empty bucket is full again after this long. Default 60 000 (a minute). */
  readonly windowMs?: number;
  /** Keys tracked at once; the least recently used are forgotten beyond this. Default 100 000. */
  readonly maxKeys?: number;
  /** A clock in ms; only differences matter. Default `performance.now` (monotonic). */
  readonly now?: () => number;
}

/** The answer of {@link RateLimiter.take}. */
export interface RateLimitDecision {
  /** True if the request may go ahead (a token was taken). */
  readonly ok: boolean;
  /** When refused, ms until a token is available again; 0 when `ok`. */
  readonly retryAfterMs: number;
}

export interface RateLimiter {
  /** Takes one token from `key`'s bucket, if it has one. */
  take(key: string): RateLimitDecision;
  /** Keys tracked now (at most `maxKeys`). */
  size(): number;
  /** Forgets every key. */
  clear(): void;
  readonly limit: number;
  readonly windowMs: number;
}

export const DEFAULT_RATE_WINDOW_MS = 60_000;
export const DEFAULT_RATE_MAX_KEYS = 100_000;

/** An in-memory token-bucket limiter; see the module comment. Throws RangeError on a bad option. */
export function createRateLimiter(init: RateLimiterInit): RateLimiter {
  const {
    limit,
    windowMs = DEFAULT_RATE_WINDOW_MS,
    maxKeys = DEFAULT_RATE_MAX_KEYS,
    now = () => performance.now(),
  } = init;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a whole number ≥ 1');
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError('windowMs must be a positive number');
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a whole number ≥ 1');
  // The generic cell rate algorithm: one number per key, the time its bucket
  // is full again (a "theoretical arrival time"); each request pushes it one
  // `interval` further, and a request is refused while that lies more than
  // `windowMs - interval` ahead.
  const interval = windowMs / limit;
  const tolerance = windowMs - interval;
  // A Map iterates in insertion order: re-inserting on each use keeps the
  // least recently used key first, ready to be evicted.
  const fullAt = new Map<string, number>();

  return {
    limit,
    windowMs,
    take(key) {
      const t = now();
      const known = fullAt.get(key);
      if (known === undefined) {
        while (fullAt.size >= maxKeys) {
          const oldest = fullAt.keys().next();
          if (oldest.done === true) break;
          fullAt.delete(oldest.value);
        }
      } else {
        fullAt.delete(key);
      }
      const start = Math.max(known ?? t, t);
      const wait = start - t - tolerance;
      if (wait > 0) {
        fullAt.set(key, start);
        return { ok: false, retryAfterMs: Math.ceil(wait) };
      }
      fullAt.set(key, start + interval);
      return { ok: true, retryAfterMs: 0 };
    },
    size: () => fullAt.size,
    clear() {
      fullAt.clear();
    },
  };
}

/**
 * Takes a token for `key` or throws `HttpError(429, 'rate-limited')`, having
 * set `Retry-After` (whole seconds, at least 1) on `res`. For handlers that
 * learn the key late, e.g. the task route once it has verified which account
 * signed a submission (charge an account only after its signature checks out,
 * or anyone could spend its quota).
 */
export function enforceRateLimit(limiter: RateLimiter, key: string, res: Pick<ServerResponse, 'setHeader'>): void {
  const decision = limiter.take(key);
  if (decision.ok) return;
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  res.setHeader('Retry-After', String(seconds));
  throw new HttpError(429, 'rate-limited', `too many requests; retry in ${seconds} s`);
}

/**
 * Middleware limiting requests by a key taken from the request; requests for
 * which `keyOf` returns undefined pass unlimited. Refusals go to the error
 * handler as `HttpError(429, 'rate-limited')` with `Retry-After` set.
 */
export function rateLimitBy(limiter: RateLimiter, keyOf: (req: Request) => string | undefined): RequestHandler {
  return (req, res, next) => {
    const key = keyOf(req);
    if (key === undefined) {
      next();
      return;
    }
    try {
      enforceRateLimit(limiter, key, res);
    } catch (error) {
      next(error);
      return;
    }
    next();
  };
}

/**
 * Middleware limiting requests per client IP (`req.ip`, which honours the
 * app's `trust proxy` setting), with IPv6 clients counted per /64; see
 * {@link ipRateKey}. Mount it before the API's routes.
 */
export function rateLimitByIp(limiter: RateLimiter): RequestHandler {
  return rateLimitBy(limiter, (req) => ipRateKey(req.ip ?? req.socket.remoteAddress ?? 'unknown'));
}

/**
 * The rate-limit key of an IP address: IPv4 as is (also when written as an
 * IPv4-mapped IPv6 address), IPv6 by its /64 prefix, since one host usually
 * holds a whole /64 and could otherwise rotate through addresses.
 */
export function ipRateKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%', 1)[0]?.split('::') ?? [];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
