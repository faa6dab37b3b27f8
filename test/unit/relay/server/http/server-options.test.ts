/**
 * The HTTP server's own deadlines: the configured limits reach node's server
 * options, and node checks them often enough for a limit to hold to within a
 * quarter of itself (node's default check every 30 s would let a 10 s limit
 * run to 40 s).
 */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { httpServerOptions } from '#server/http/server-options.ts';

describe('httpServerOptions', () => {
  it('sets both deadlines and a check interval of a quarter of the shorter, at most a second', () => {
    expect(httpServerOptions({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 })).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 60_000,
      connectionsCheckingInterval: 1000,
    });
    expect(httpServerOptions({ headersTimeoutMs: 500, requestTimeoutMs: 1500 }).connectionsCheckingInterval).toBe(125);
    expect(httpServerOptions({ headersTimeoutMs: 100, requestTimeoutMs: 100 }).connectionsCheckingInterval).toBe(25);
    const server = createServer(httpServerOptions({ headersTimeoutMs: 2000, requestTimeoutMs: 3000 }));
    expect([server.headersTimeout, server.requestTimeout]).toEqual([2000, 3000]);
  });

  it('refuses a request deadline shorter than the headers deadline', () => {
    expect(() => httpServerOptions({ headersTimeoutMs: 2000, requestTimeoutMs: 1000 })).toThrow(RangeError);
    expect(() => httpServerOptions({ headersTimeoutMs: 0, requestTimeoutMs: 1000 })).toThrow(RangeError);
  });
});
