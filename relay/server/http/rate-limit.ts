/**
 * Request rate limits: an in-memory sliding-window counter per key (an IP,
 * an account) with bounded memory, and the express glue that answers 429 with
 * a `Retry-After` header through the app's one error handler.
 *
 * The limit holds exactly: a key never gets more than `limit` requests
 * through in any span of `windowMs`, however its requests are spread. (A
 * token bucket that refills over the window does not: it lets a full burst
 * through and then keeps refilling, so up to twice the limit passes in one
 * window.) Each key counts its accepted requests in `slots` slots of
 * `windowMs / slots` and refuses while the current slot and the `slots`
 * before it, a span at least `windowMs` long, hold `limit`. The price of that
 * exactness is a little caution: a request is counted for up to one slot
 * longer than the window, so a refused key may wait up to `windowMs / slots`
 * longer than a sliding log of every request would make it (2 s a minute by
 * default), and never less. Refused requests are not counted: retrying early
 * does not push the wait further out.
 *
 * A key that has been quiet for a window and a slot counts nothing, which is
 * the same as never having been seen, so evicting the least recently used keys
 * when `maxKeys` is reached only ever forgets the quietest callers.
 */
import { isIPv6 } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { HttpError } from './errors.ts';

export interface RateLimiterInit {
  /** Requests a key may make in any window (also the largest burst). A whole number ≥ 1. */
  readonly limit: number;
  /** The window in ms. Default 60 000 (a minute). */
  readonly windowMs?: number;
  /** Slots each window is counted in: more is closer to a sliding log, at 2 or 4 bytes a slot per key. Default 30. */
  readonly slots?: number;
  /** Keys tracked at once; the least recently used are forgotten beyond this. Default 100 000. */
  readonly maxKeys?: number;
  /** A clock in ms; only differences matter. Default `performance.now` (monotonic). */
  readonly now?: () => number;
}

/** The answer of {@link RateLimiter.take}. */
export interface RateLimitDecision {
  /** True if the request may go ahead (it was counted). */
  readonly ok: boolean;
  /** When refused, ms until a request would be accepted again; 0 when `ok`. */
  readonly retryAfterMs: number;
}

export interface RateLimiter {
  /** Counts one request for `key`, if the key has room for it in the window. */
  take(key: string): RateLimitDecision;
  /** Keys tracked now (at most `maxKeys`). */
  size(): number;
  /** Forgets every key. */
  clear(): void;
  readonly limit: number;
  readonly windowMs: number;
}

export const DEFAULT_RATE_WINDOW_MS = 60_000;
export const DEFAULT_RATE_SLOTS = 30;
export const DEFAULT_RATE_MAX_KEYS = 100_000;

/** One key's counts: a ring of `slots + 1` slot counts, the newest at `head`. */
interface Counts {
  /** The slot number (time / slot length) the ring was last moved to. */
  head: number;
  /** The sum of `ring`. */
  total: number;
  readonly ring: Uint16Array | Uint32Array;
}

/** An in-memory sliding-window limiter; see the module comment. Throws RangeError on a bad option. */
export function createRateLimiter(init: RateLimiterInit): RateLimiter {
  const {
    limit,
    windowMs = DEFAULT_RATE_WINDOW_MS,
    slots = DEFAULT_RATE_SLOTS,
    maxKeys = DEFAULT_RATE_MAX_KEYS,
    now = () => performance.now(),
  } = init;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 0xffff_ffff) {
    throw new RangeError('limit must be a whole number from 1 to 2^32 - 1');
  }
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError('windowMs must be a positive number');
  if (!Number.isSafeInteger(slots) || slots < 1 || slots > 3600) {
    throw new RangeError('slots must be a whole number from 1 to 3600');
  }
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a whole number ≥ 1');
  const slotMs = windowMs / slots;
  const span = slots + 1;
  const at = (slot: number) => ((slot % span) + span) % span;
  /** The slot `t` falls in, by the same products as the wait below (plain division can round across a boundary). */
  const slotOf = (t: number): number => {
    const guess = Math.floor(t / slotMs);
    if ((guess + 1) * slotMs <= t) return guess + 1;
    return guess * slotMs > t ? guess - 1 : guess;
  };
  // A Map iterates in insertion order: re-inserting on each use keeps the
  // least recently used key first, ready to be evicted.
  const byKey = new Map<string, Counts>();

  /** Moves `counts` on to `slot`, emptying the slots that fell out of the span. A clock that steps back moves nothing. */
  function advance(counts: Counts, slot: number): void {
    if (slot <= counts.head) return;
    if (slot - counts.head >= span) {
      counts.ring.fill(0);
      counts.total = 0;
    } else {
      for (let s = counts.head + 1; s <= slot; s++) {
        counts.total -= counts.ring[at(s)] ?? 0;
        counts.ring[at(s)] = 0;
      }
    }
    counts.head = slot;
  }

  /** ms from `t` until enough of the oldest slots leave the span for one more request to fit. */
  function waitFor(counts: Counts, t: number): number {
    let left = counts.total;
    for (let s = counts.head - slots; s <= counts.head; s++) {
      left -= counts.ring[at(s)] ?? 0;
      // Slot s stops being counted once the slot s + span begins.
      if (left < limit) return Math.max(1, Math.ceil((s + span) * slotMs - t));
    }
    return Math.ceil(windowMs + slotMs); // unreachable: an empty span holds no requests
  }

  return {
    limit,
    windowMs,
    take(key) {
      const t = now();
      const slot = slotOf(t);
      let counts = byKey.get(key);
      if (counts === undefined) {
        while (byKey.size >= maxKeys) {
          const oldest = byKey.keys().next();
          if (oldest.done === true) break;
          byKey.delete(oldest.value);
        }
        counts = { head: slot, total: 0, ring: limit <= 0xffff ? new Uint16Array(span) : new Uint32Array(span) };
      } else {
        byKey.delete(key);
        advance(counts, slot);
      }
      byKey.set(key, counts);
      if (counts.total >= limit) return { ok: false, retryAfterMs: waitFor(counts, t) };
      counts.ring[at(counts.head)] = (counts.ring[at(counts.head)] ?? 0) + 1;
      counts.total += 1;
      return { ok: true, retryAfterMs: 0 };
    },
    size: () => byKey.size,
    clear() {
      byKey.clear();
    },
  };
}

/**
 * A 429 `rate-limited` refusal that knows when to come back: the app's error
 * paths (app.ts) answer it with a `Retry-After` header, also when it is thrown
 * where no response is at hand (the task service's admission check).
 */
export class RateLimitedError extends HttpError {
  /** Whole seconds, at least 1, for `Retry-After`. */
  readonly retryAfterSeconds: number;
  constructor(retryAfterMs: number, what = 'too many requests') {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(429, 'rate-limited', `${what}; retry in ${seconds} s`);
    this.retryAfterSeconds = seconds;
  }
}

/** Counts a request for `key` or throws {@link RateLimitedError}. `what` starts the refusal's message. */
export function takeOrThrow(limiter: RateLimiter, key: string, what?: string): void {
  const decision = limiter.take(key);
  if (!decision.ok) throw new RateLimitedError(decision.retryAfterMs, what);
}

/** Sets `Retry-After` on `res` when `error` is a {@link RateLimitedError}. */
export function setRetryAfter(error: unknown, res: Pick<ServerResponse, 'setHeader'>): void {
  if (error instanceof RateLimitedError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
}

/**
 * Counts a request for `key` or throws {@link RateLimitedError}, having set
 * `Retry-After` (whole seconds, at least 1) on `res`. For handlers that learn
 * the key late, e.g. the task route once it has verified which account
 * signed a submission (charge an account only after its signature checks out,
 * or anyone could spend its quota).
 */
export function enforceRateLimit(limiter: RateLimiter, key: string, res: Pick<ServerResponse, 'setHeader'>): void {
  try {
    takeOrThrow(limiter, key);
  } catch (error) {
    setRetryAfter(error, res);
    throw error;
  }
}

/**
 * Middleware limiting requests by a key taken from the request; requests for
 * which `keyOf` returns undefined pass unlimited. Refusals go to the error
 * handler as a {@link RateLimitedError} with `Retry-After` set.
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
