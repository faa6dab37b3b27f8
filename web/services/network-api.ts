/**
 * The relay's network endpoints the SDK does not wrap (they describe the
 * relay, not an account): health, stats and peers. Answers are checked with
 * the core's schemas (shared/core/api/network.ts), like any other untrusted input.
 */
import * as v from 'valibot';

import {
  networkHealthSchema,
  networkPeersSchema,
  networkStatsSchema,
  type NetworkHealth,
  type NetworkPeer,
  type NetworkStats,
} from '#core/api/network.ts';

export type { NetworkHealth, NetworkPeer, NetworkStats };

/** The relay answered something other than the documented JSON. */
export class NetworkApiError extends Error {
  override readonly name = 'NetworkApiError';
  readonly code = 'invalid-response';
}

async function read<S extends v.GenericSchema>(
  relayUrl: string,
  path: string,
  schema: S,
  options: { signal?: AbortSignal; accept?: readonly number[] },
): Promise<v.InferOutput<S>> {
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(10_000)])
    : AbortSignal.timeout(10_000);
  let response: Response;
  try {
    response = await fetch(new URL(path, relayUrl), { signal, headers: { accept: 'application/json' } });
  } catch (error) {
    if (signal.aborted) throw error;
    throw Object.assign(new NetworkApiError('the relay is unreachable'), { code: 'relay-unreachable' });
  }
  if (!response.ok && !(options.accept ?? []).includes(response.status)) {
    throw new NetworkApiError(`${path} answered ${response.status}`);
  }
  const parsed = v.safeParse(schema, await response.json().catch(() => undefined));
  if (!parsed.success) throw new NetworkApiError(`${path}: ${parsed.issues[0].message}`);
  return parsed.output;
}

/** `GET /api/network/health` (a 503 is an answer too: the relay is not healthy). */
export function networkHealth(relayUrl: string, options: { signal?: AbortSignal } = {}): Promise<NetworkHealth> {
  return read(relayUrl, '/api/network/health', networkHealthSchema, { ...options, accept: [503] });
}

/** `GET /api/network/stats`. */
export function networkStats(relayUrl: string, options: { signal?: AbortSignal } = {}): Promise<NetworkStats> {
  return read(relayUrl, '/api/network/stats', networkStatsSchema, options);
}

/** `GET /api/peers`. */
export async function networkPeers(relayUrl: string, options: { signal?: AbortSignal } = {}): Promise<NetworkPeer[]> {
  return (await read(relayUrl, '/api/peers', networkPeersSchema, options)).peers;
}
