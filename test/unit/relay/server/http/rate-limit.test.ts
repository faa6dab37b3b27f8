/**
 * The relay's rate limiter: a sliding-window count per key that never lets
 * more than the limit through in any window, bounded memory, and 429 answers
 * with Retry-After through the app's error paths.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import express from 'express';
import { pino } from 'pino';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp } from '#server/http/app.ts';
import { errorHandler } from '#server/http/errors.ts';
import {
  createRateLimiter,
  enforceRateLimit,
  ipRateKey,
  RateLimitedError,
  rateLimitByIp,
  type RateLimiter,
} from '#server/http/rate-limit.ts';
import type { RequestLane } from '#server/http/request-lane.ts';

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

function takeMany(limiter: RateLimiter, key: string, n: number): boolean[] {
  return Array.from({ length: n }, () => limiter.take(key).ok);
}

describe('createRateLimiter', () => {
  it('allows `limit` requests per key, then refuses with a retry time', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 3, windowMs: 60_000, now: time.now });
    expect(takeMany(limiter, 'a', 3)).toEqual([true, true, true]);
    const refused = limiter.take('a');
    expect(refused.ok).toBe(false);
    // The burst was counted at the start of a 2 s slot (a thirtieth of the
    // window): it leaves the count once the window and that slot are over.
    expect(refused.retryAfterMs).toBe(62_000);
    // Another key has its own count.
    expect(takeMany(limiter, 'b', 3)).toEqual([true, true, true]);
    expect(limiter.take('b').ok).toBe(false);
  });

  it('holds exactly after a burst: no refill inside the window (a token bucket let 622 of 600 through)', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 600, windowMs: 60_000, now: time.now });
    let accepted = 0;
    for (let i = 0; i < 600; i++) if (limiter.take('alice').ok) accepted++;
    // Then one request every 100 ms for the rest of the minute.
    for (let ms = 100; ms < 60_000; ms += 100) {
      time.advance(100);
      if (limiter.take('alice').ok) accepted++;
    }
    expect(accepted).toBe(600);
  });

  it('never lets more than `limit` through in any window, and lets the next in exactly when it says', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 100, max: 5000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 1, maxLength: 120 }),
        (limit, windowMs, slots, gaps) => {
          const time = clock(7_777);
          const limiter = createRateLimiter({ limit, windowMs, slots, now: time.now });
          const accepted: number[] = [];
          for (const gap of gaps) {
            time.advance(gap);
            const t = time.now();
            const decision = limiter.take('k');
            if (decision.ok) {
              accepted.push(t);
              // Every window that ends here holds at most `limit` accepted requests.
              expect(accepted.filter((a) => a > t - windowMs).length).toBeLessThanOrEqual(limit);
              continue;
            }
            // Refused only while the window and one slot that end here already hold `limit`…
            expect(accepted.filter((a) => a >= t - windowMs - windowMs / slots).length).toBeGreaterThanOrEqual(limit);
            // …until exactly retryAfterMs from now: a ms earlier is still refused, then it is let in.
            expect(decision.retryAfterMs).toBeGreaterThan(0);
            expect(decision.retryAfterMs).toBeLessThanOrEqual(windowMs + windowMs / slots + 1);
            if (decision.retryAfterMs > 1) {
              time.advance(decision.retryAfterMs - 1);
              expect(limiter.take('k').ok).toBe(false);
              time.advance(1);
            } else time.advance(decision.retryAfterMs);
            expect(limiter.take('k').ok).toBe(true);
            accepted.push(time.now());
            expect(accepted.filter((a) => a > time.now() - windowMs).length).toBeLessThanOrEqual(limit);
          }
        },
      ),
      { seed: 16_001, numRuns: 300 },
    );
  });

  it('counts a request for at most a window and a slot', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 4, windowMs: 1000, slots: 10, now: time.now });
    expect(takeMany(limiter, 'a', 5)).toEqual([true, true, true, true, false]);
    // The burst sits in the slot [1 000 000, 1 000 100): counted until 1 001 100.
    time.advance(1099);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterMs: 1 });
    time.advance(1);
    expect(takeMany(limiter, 'a', 5)).toEqual([true, true, true, true, false]);
    // Quiet for a window and a slot: the whole limit is back, and no more.
    time.advance(1100);
    expect(takeMany(limiter, 'a', 5)).toEqual([true, true, true, true, false]);
  });

  it('does not count refusals: retrying early does not push the wait out', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 2, windowMs: 1000, slots: 10, now: time.now });
    expect(takeMany(limiter, 'a', 2)).toEqual([true, true]);
    for (let i = 0; i < 10; i++) {
      time.advance(100);
      limiter.take('a');
    }
    time.advance(100);
    expect(limiter.take('a').ok).toBe(true);
  });

  it('refills nothing while the clock steps back', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 1, windowMs: 1000, slots: 10, now: time.now });
    expect(limiter.take('a').ok).toBe(true);
    time.advance(-5000);
    expect(limiter.take('a').ok).toBe(false);
    time.advance(5000 + 1000);
    expect(limiter.take('a').ok).toBe(false);
    time.advance(100);
    expect(limiter.take('a').ok).toBe(true);
  });

  it('keeps at most maxKeys, forgetting the least recently used', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 100, now: time.now });
    for (let i = 0; i < 10_000; i++) limiter.take(`ip-${i}`);
    expect(limiter.size()).toBe(100);
    // The last 100 keys are remembered (and still empty), the first are not.
    expect(limiter.take('ip-9999').ok).toBe(false);
    expect(limiter.take('ip-0').ok).toBe(true);
    expect(limiter.size()).toBe(100);

    // Using a key keeps it: 'hot' survives while 150 new keys arrive.
    const small = createRateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 100, now: time.now });
    small.take('hot');
    for (let i = 0; i < 150; i++) {
      small.take(`new-${i}`);
      small.take('hot');
    }
    expect(small.size()).toBe(100);
    expect(small.take('hot').ok).toBe(false);
    small.clear();
    expect(small.size()).toBe(0);
  });

  it('rejects bad options', () => {
    expect(() => createRateLimiter({ limit: 0 })).toThrow(RangeError);
    expect(() => createRateLimiter({ limit: 1.5 })).toThrow(RangeError);
    expect(() => createRateLimiter({ limit: 1, windowMs: 0 })).toThrow(RangeError);
    expect(() => createRateLimiter({ limit: 1, maxKeys: 0 })).toThrow(RangeError);
    expect(() => createRateLimiter({ limit: 1, slots: 0 })).toThrow(RangeError);
  });
});

describe('ipRateKey', () => {
  it('keys IPv4 as is and IPv6 by its /64', () => {
    expect(ipRateKey('203.0.113.7')).toBe('203.0.113.7');
    expect(ipRateKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(ipRateKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipRateKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(ipRateKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipRateKey('::1')).toBe('0:0:0:0::/64');
    expect(ipRateKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});

describe('rate-limit middleware', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server !== undefined) await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  async function listen(app: express.Express): Promise<string> {
    const listening = app.listen(0, '127.0.0.1');
    server = listening;
    await new Promise((resolve) => listening.once('listening', resolve));
    return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
  }

  function appWith(limiter: RateLimiter, accounts: RateLimiter): express.Express {
    const app = express();
    app.set('trust proxy', true);
    const api = express.Router();
    api.use(rateLimitByIp(limiter));
    api.get('/status', (_req, res) => {
      res.json({ ok: true });
    });
    api.post('/tasks/:account', (req, res) => {
      enforceRateLimit(accounts, req.params.account, res);
      res.status(202).json({ accepted: true });
    });
    app.use('/api', api);
    app.use(errorHandler());
    return app;
  }

  it('answers 429 JSON with Retry-After per IP', async () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 2, windowMs: 60_000, now: time.now });
    const url = await listen(appWith(limiter, createRateLimiter({ limit: 100 })));
    const get = (ip: string) => fetch(`${url}/api/status`, { headers: { 'x-forwarded-for': ip } });

    expect((await get('198.51.100.1')).status).toBe(200);
    expect((await get('198.51.100.1')).status).toBe(200);
    const refused = await get('198.51.100.1');
    expect(refused.status).toBe(429);
    // The two requests were counted in the slot that began at the clock's start: a minute and 2 s.
    expect(refused.headers.get('retry-after')).toBe('62');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await refused.json()).toEqual({ error: { code: 'rate-limited', message: expect.any(String) as string } });
    // Another IP is not affected; the count empties when Retry-After says.
    expect((await get('198.51.100.2')).status).toBe(200);
    time.advance(61_999);
    expect((await get('198.51.100.1')).status).toBe(429);
    time.advance(1);
    expect((await get('198.51.100.1')).status).toBe(200);
  });

  it('limits per account from inside a route', async () => {
    const time = clock();
    const accounts = createRateLimiter({ limit: 1, windowMs: 10_000, now: time.now });
    const url = await listen(appWith(createRateLimiter({ limit: 100 }), accounts));
    const post = (account: string) => fetch(`${url}/api/tasks/${account}`, { method: 'POST' });

    expect((await post('alice')).status).toBe(202);
    const refused = await post('alice');
    expect(refused.status).toBe(429);
    // 10 s and a thirtieth of it, rounded up to whole seconds.
    expect(refused.headers.get('retry-after')).toBe('11');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
    expect((await post('bob')).status).toBe(202);
  });

  it('sets Retry-After on a refusal thrown where no response is at hand, on express routes and lanes', async () => {
    // As the task service's per-account check throws it, deep inside a submission.
    const api = express.Router();
    api.post('/tasks', () => {
      throw new RateLimitedError(4500, 'too many tasks from this account');
    });
    const lane: RequestLane = (req, res, http) => {
      if (req.url !== '/api/lane') return false;
      http.fail(req, res, new RateLimitedError(61_001));
      return true;
    };
    const listener = createHttpApp({
      log: pino({ level: 'silent' }),
      modelsDir: tmpdir(),
      api,
      isReady: () => true,
      lanes: [lane],
    });
    const listening = createServer(listener).listen(0, '127.0.0.1');
    server = listening;
    await new Promise((resolve) => listening.once('listening', resolve));
    const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;

    const routed = await fetch(`${url}/api/tasks`, { method: 'POST' });
    expect(routed.status).toBe(429);
    expect(routed.headers.get('retry-after')).toBe('5');
    expect(await routed.json()).toEqual({
      error: { code: 'rate-limited', message: 'too many tasks from this account; retry in 5 s' },
    });
    const laned = await fetch(`${url}/api/lane`, { method: 'POST' });
    expect(laned.status).toBe(429);
    expect(laned.headers.get('retry-after')).toBe('62');
    // Other errors carry no Retry-After.
    const missing = await fetch(`${url}/api/nothing`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('retry-after')).toBeNull();
  });
});
