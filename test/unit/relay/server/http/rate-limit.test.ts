/**
 * The relay's rate limiter: token buckets per key, refill over the window,
 * bounded memory, and 429 answers through the app's error mapping.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler } from '#server/http/errors.ts';
import {
  createRateLimiter,
  enforceRateLimit,
  ipRateKey,
  rateLimitByIp,
  type RateLimiter,
} from '#server/http/rate-limit.ts';

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
    // One token comes back every windowMs / limit.
    expect(refused.retryAfterMs).toBe(20_000);
    // Another key has its own bucket.
    expect(takeMany(limiter, 'b', 3)).toEqual([true, true, true]);
    expect(limiter.take('b').ok).toBe(false);
  });

  it('refills over the window', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 4, windowMs: 1000, now: time.now });
    expect(takeMany(limiter, 'a', 5)).toEqual([true, true, true, true, false]);
    time.advance(249);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterMs: 1 });
    time.advance(1);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
    // A full window later the whole burst is back, and no more.
    time.advance(10_000);
    expect(takeMany(limiter, 'a', 5)).toEqual([true, true, true, true, false]);
  });

  it('refills nothing while the clock steps back', () => {
    const time = clock();
    const limiter = createRateLimiter({ limit: 1, windowMs: 1000, now: time.now });
    expect(limiter.take('a').ok).toBe(true);
    time.advance(-5000);
    expect(limiter.take('a').ok).toBe(false);
    time.advance(5000 + 1000);
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
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await refused.json()).toEqual({ error: { code: 'rate-limited', message: expect.any(String) as string } });
    // Another IP is not affected; the window refills.
    expect((await get('198.51.100.2')).status).toBe(200);
    time.advance(30_000);
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
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
    expect((await post('bob')).status).toBe(202);
  });
});
