/**
 * The relay's network endpoints the SDK does not wrap (they describe the
 * relay, not an account): health, stats and peers. Answers are checked with
 * valibot like any other untrusted input.
 */
import * as v from 'valibot';

const count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

const healthSchema = v.object({
  healthy: v.boolean(),
  ready: v.boolean(),
  pool: v.string(),
  ledgerHeight: count,
  peers: count,
});
export type NetworkHealth = v.InferOutput<typeof healthSchema>;

const statsSchema = v.object({
  network: v.string(),
  ledger: v.object({ height: count, supply: v.number(), accounts: count }),
  tasks: v.object({ recent: count, byState: v.record(v.string(), count) }),
  peers: count,
  reservations: v.optional(v.unknown()),
  pool: v.optional(v.unknown()),
});
export type NetworkStats = v.InferOutput<typeof statsSchema>;

const peersSchema = v.object({
  peers: v.array(
    v.object({
      id: v.string(),
      address: v.optional(v.string()),
      direction: v.optional(v.string()),
      since: v.optional(v.number()),
    }),
  ),
});
export type NetworkPeer = v.InferOutput<typeof peersSchema>['peers'][number];

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
  return read(relayUrl, '/api/network/health', healthSchema, { ...options, accept: [503] });
}

/** `GET /api/network/stats`. */
export function networkStats(relayUrl: string, options: { signal?: AbortSignal } = {}): Promise<NetworkStats> {
  return read(relayUrl, '/api/network/stats', statsSchema, options);
}

/** `GET /api/peers`. */
export async function networkPeers(relayUrl: string, options: { signal?: AbortSignal } = {}): Promise<NetworkPeer[]> {
  return (await read(relayUrl, '/api/peers', peersSchema, options)).peers;
}
