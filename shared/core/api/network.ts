/**
 * The answers of the relay's network endpoints (`/api/network/health`,
 * `/api/network/stats`, `/api/peers`, `/api/network/nodes`): one schema
 * each, which the relay's answers are typed against and the app reads with,
 * so the two cannot drift apart (the peers' `since` once went out as a date
 * string to an app that expected milliseconds).
 */
import * as v from 'valibot';

const count = v.pipe(v.number(), v.safeInteger(), v.minValue(0));

export const networkHealthSchema = v.object({
  healthy: v.boolean(),
  ready: v.boolean(),
  pool: v.string(),
  ledgerHeight: count,
  peers: count,
});
export type NetworkHealth = v.InferOutput<typeof networkHealthSchema>;

export const networkStatsSchema = v.object({
  network: v.string(),
  ledger: v.object({ height: count, supply: v.number(), accounts: count }),
  tasks: v.object({ recent: count, byState: v.record(v.string(), count) }),
  peers: count,
  reservations: v.optional(v.unknown()),
  pool: v.optional(v.unknown()),
});
export type NetworkStats = v.InferOutput<typeof networkStatsSchema>;

export const networkPeerSchema = v.object({
  id: v.string(),
  address: v.optional(v.string()),
  direction: v.optional(v.string()),
  /** When its oldest open connection opened, in milliseconds since the epoch. */
  since: v.optional(count),
});
export type NetworkPeer = v.InferOutput<typeof networkPeerSchema>;

export const networkPeersSchema = v.object({ peers: v.array(networkPeerSchema) });
export type NetworkPeers = v.InferOutput<typeof networkPeersSchema>;
