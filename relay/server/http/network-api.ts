/**
 * Network endpoints: peers, the relay's own resource allocation (changed
 * live, by its operator only), bootstrap addresses, health and stats.
 */
import express, { type Router } from 'express';
import { decodeResourceAllocation, type ResourceAllocation } from '#core/resources/allocation.ts';
import type { LedgerService } from '../ledger/ledger-service.ts';
import type { RelayNode } from '../p2p/relay-node.ts';
import type { InferencePool } from '#node/pool/inference-pool.ts';
import type { TaskService } from '../task-service/task-service.ts';
import { unwrap } from '#core/result.ts';
import type { NetworkHealth, NetworkPeer, NetworkPeers, NetworkStats } from '#core/api/network.ts';
import type { OperatorAuth } from './operator-auth.ts';

export interface NetworkApiInit {
  readonly p2p: Pick<RelayNode, 'peers' | 'multiaddrs' | 'reservations' | 'peerId'>;
  readonly pool: Pick<InferencePool, 'stats'>;
  readonly ledger: Pick<LedgerService, 'height' | 'state' | 'network'>;
  readonly tasks: Pick<TaskService, 'list'>;
  /** The relay pool's allocation now. */
  readonly allocation: () => ResourceAllocation;
  /** Applies a new allocation to the pool at once (no restart). */
  readonly setAllocation: (allocation: ResourceAllocation) => void;
  /** Decides who may change the allocation: the operator only. */
  readonly operator: OperatorAuth;
  readonly isReady: () => boolean;
}

export function createNetworkApi(init: NetworkApiInit): Router {
  const api = express.Router();
  // Answers are typed against the core's schemas, which the app reads them with.
  const peers = (): NetworkPeer[] =>
    init.p2p.peers().map((p) => ({
      id: p.id,
      address: p.remoteAddr,
      direction: p.direction,
      since: p.since.getTime(),
    }));

  api.get('/peers', (_req, res) => {
    res.json({ peers: peers() } satisfies NetworkPeers);
  });

  api.get('/resources', (_req, res) => {
    res.json({ allocation: init.allocation(), pool: init.pool.stats() });
  });

  // Reading stays public; changing it is the operator's, checked before the allocation is even decoded.
  api.post('/resources', (req, res) => {
    const change = init.operator.authorize(req, res, 'resources/set');
    const allocation = unwrap(
      decodeResourceAllocation(change.via === 'token' ? change.body : change.payload.allocation),
    );
    init.setAllocation(allocation);
    res.json({ allocation: init.allocation(), pool: init.pool.stats() });
  });

  api.get('/network/bootstrap', (_req, res) => {
    res.json({ peerId: init.p2p.peerId.toString(), multiaddrs: init.p2p.multiaddrs().map(String) });
  });

  api.get('/network/nodes', (_req, res) => {
    res.json({ relay: { id: init.p2p.peerId.toString(), role: 'relay', pool: init.pool.stats() }, peers: peers() });
  });

  api.get('/network/health', (_req, res) => {
    const pool = init.pool.stats();
    const healthy = init.isReady() && pool.state === 'running';
    res.status(healthy ? 200 : 503).json({
      healthy,
      ready: init.isReady(),
      pool: pool.state,
      ledgerHeight: init.ledger.height,
      peers: init.p2p.peers().length,
    } satisfies NetworkHealth);
  });

  api.get('/network/stats', (_req, res) => {
    const tasks = init.tasks.list({ limit: 1000 });
    const byState: Record<string, number> = {};
    for (const task of tasks) byState[task.state] = (byState[task.state] ?? 0) + 1;
    const state = init.ledger.state;
    res.json({
      network: init.ledger.network,
      ledger: { height: init.ledger.height, supply: state.supply, accounts: state.accounts.size },
      tasks: { recent: tasks.length, byState },
      peers: init.p2p.peers().length,
      reservations: init.p2p.reservations(),
      pool: init.pool.stats(),
    } satisfies NetworkStats);
  });

  return api;
}
