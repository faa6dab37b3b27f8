/**
 * The limits node's HTTP(S) server enforces itself, before express sees a
 * request: how long a client may take to send its headers, and its whole
 * request with the body. Without them a client that trickles a byte every
 * few seconds holds a socket for node's default 300 s (slowloris).
 *
 * Both clocks stop once the request has arrived: a long answer (a
 * Server-Sent Events stream at `GET /api/tasks/:id/stream`) is not cut, and
 * a WebSocket (the events hub, browsers' libp2p connections) leaves the HTTP
 * parser at its upgrade, so neither limit reaches it.
 */
import type { ServerOptions } from 'node:http';

export interface HttpTimeouts {
  /** Most ms from a request's first byte to the end of its headers. */
  readonly headersTimeoutMs: number;
  /** Most ms from a request's first byte to the end of its body; at least `headersTimeoutMs`. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Time for the largest body (about 21.4 MiB) at about 3 Mbit/s, a slow phone uplink. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/**
 * The server options for `timeouts`. Node checks the clocks every
 * `connectionsCheckingInterval` (30 s by default, which would let a 10 s
 * limit run to 40 s), so the check runs at a quarter of the shorter limit,
 * at most once a second. Throws RangeError when the request limit is the
 * shorter (node refuses that too, less clearly).
 */
export function httpServerOptions(
  timeouts: HttpTimeouts,
): Required<Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>> {
  const { headersTimeoutMs, requestTimeoutMs } = timeouts;
  if (!(headersTimeoutMs > 0) || !(requestTimeoutMs >= headersTimeoutMs)) {
    throw new RangeError('the request timeout must be at least the headers timeout, and both positive');
  }
  return {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
  };
}
