/**
 * The relay's network endpoints answer what the app reads them with: each
 * real answer goes through the core's schema (shared/core/api/network.ts).
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkHealthSchema, networkPeersSchema, networkStatsSchema } from '#core/api/network.ts';
import { createNetworkApi, type NetworkApiInit } from '#server/http/network-api.ts';

const SINCE = new Date(1_765_000_000_000);

const init = {
  p2p: {
    peers: () => [{ id: '12D3KooWpeer', remoteAddr: '/ip4/127.0.0.1/tcp/4001', direction: 'inbound', since: SINCE }],
    multiaddrs: () => [],
    reservations: () => ({ count: 1 }),
    peerId: { toString: () => '12D3KooWrelay' },
  } as unknown as NetworkApiInit['p2p'],
  pool: { stats: () => ({ state: 'running' }) } as unknown as NetworkApiInit['pool'],
  ledger: {
    height: 3,
    state: { supply: 1000, accounts: new Map() },
    network: 'acn-test',
  } as unknown as NetworkApiInit['ledger'],
  tasks: {
    list: () => [{ state: 'settled' }, { state: 'settled' }, { state: 'failed' }],
  } as unknown as NetworkApiInit['tasks'],
  allocation: () => ({}) as ReturnType<NetworkApiInit['allocation']>,
  setAllocation: () => undefined,
  isReady: () => true,
  // Only the GET endpoints are exercised here; the operator check has its own tests.
  operator: {
    authorize: () => {
      throw new Error('not used');
    },
  },
} satisfies NetworkApiInit;

let server: ReturnType<express.Express['listen']>;
let base = '';

beforeAll(async () => {
  const app = express();
  app.use('/api', createNetworkApi(init));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function answer(path: string): Promise<unknown> {
  const response = await fetch(base + path);
  expect(response.status).toBe(200);
  return response.json();
}

describe('the network endpoints match the schemas the app reads them with', () => {
  it('GET /api/peers: a peer’s `since` is milliseconds, not a date string', async () => {
    const parsed = v.safeParse(networkPeersSchema, await answer('/api/peers'));
    expect(parsed.issues).toBeUndefined();
    expect(parsed.output).toEqual({
      peers: [{ id: '12D3KooWpeer', address: '/ip4/127.0.0.1/tcp/4001', direction: 'inbound', since: SINCE.getTime() }],
    });
  });

  it('GET /api/network/nodes lists the same peers', async () => {
    const body = (await answer('/api/network/nodes')) as { peers: unknown };
    expect(v.safeParse(networkPeersSchema, { peers: body.peers }).success).toBe(true);
  });

  it('GET /api/network/health and /api/network/stats', async () => {
    expect(v.safeParse(networkHealthSchema, await answer('/api/network/health')).issues).toBeUndefined();
    const stats = v.safeParse(networkStatsSchema, await answer('/api/network/stats'));
    if (!stats.success) throw new Error(`stats: ${stats.issues[0].message}`);
    expect(stats.output.tasks).toEqual({ recent: 3, byState: { settled: 2, failed: 1 } });
  });
});
