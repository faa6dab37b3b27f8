/**
 * The relay's libp2p node against stock js-libp2p clients on loopback:
 * reservations, a relayed connection between two clients, a crowd from one IP,
 * sharing the app's HTTP server, and the persisted identity.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createRelayNode, type RelayNode, type RelayPeer } from '#server/p2p/relay-node.ts';
import { accountIdFromPublicKey } from '#core/identity/ids.ts';
import { createNobleSigner } from '#core/identity/signer.ts';
import { createStockClient, waitFor, type StockClient } from '#test/p2p-clients.ts';

const ECHO = '/acn-test/echo/1.0.0';

let dataDir: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'acn-relay-'));
});

afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function startRelay(init: Parameters<typeof createRelayNode>[0] = {}): Promise<RelayNode> {
  const relay = await createRelayNode({ dataDir, host: '127.0.0.1', port: 0, ...init });
  await relay.start();
  cleanups.push(() => relay.stop());
  return relay;
}

async function client(options: Parameters<typeof createStockClient>[0] = {}): Promise<StockClient> {
  const node = await createStockClient(options);
  cleanups.push(async () => {
    await node.stop();
  });
  return node;
}

function relayAddr(relay: RelayNode): Multiaddr {
  const address = relay.multiaddrs().find((ma) => ma.toString().includes('/ws/'));
  if (address === undefined) throw new Error('the relay has no WebSocket address');
  return address;
}

describe('relay node', () => {
  it('gives a stock client a reservation and relays a second client to it', async () => {
    const registry = new Registry();
    const relay = await startRelay({ metrics: registry });
    const connected: RelayPeer[] = [];
    relay.addEventListener('peer:connect', (event) => connected.push(event.detail));

    const listener = await client({ reserve: true });
    await listener.handle(
      ECHO,
      async (stream) => {
        for await (const chunk of stream) stream.send(chunk);
        await stream.close();
      },
      { runOnLimitedConnection: true },
    );
    await listener.dial(relayAddr(relay));
    await waitFor(
      () => listener.getMultiaddrs().some((ma) => ma.toString().includes('/p2p-circuit')),
      10_000,
      'a reservation',
    );
    expect(relay.reservations()).toBe(1);
    const circuit = listener.getMultiaddrs().find((ma) => ma.toString().includes('/p2p-circuit')) as Multiaddr;
    expect(circuit.toString()).toBe(`${relayAddr(relay).toString()}/p2p-circuit/p2p/${listener.peerId.toString()}`);
    expect(connected.map((peer) => peer.id)).toContain(listener.peerId.toString());
    expect(connected[0]?.remoteAddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws$/);
    expect(relay.peers().map((peer) => peer.id)).toEqual([listener.peerId.toString()]);

    const dialer = await client();
    const connection = await dialer.dial(circuit);
    expect(connection.remotePeer.equals(listener.peerId)).toBe(true);
    expect(connection.limits).toBeDefined(); // a relayed (limited) connection
    expect(connection.remoteAddr.toString()).toContain('/p2p-circuit');

    const stream = await connection.newStream(ECHO, { runOnLimitedConnection: true });
    const sent = new TextEncoder().encode('hello through the relay');
    stream.send(sent);
    await stream.close();
    const received: number[] = [];
    for await (const chunk of stream) received.push(...chunk.subarray());
    expect(new Uint8Array(received)).toEqual(sent);

    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string) => metrics.find((m) => m.name === name)?.values[0]?.value;
    expect(value('acn_relay_p2p_reservations')).toBe(1);
    expect(value('acn_relay_p2p_peers')).toBe(2);

    // A reservation is released when its peer leaves, not two hours later.
    const gone = new Promise((resolve) => {
      relay.addEventListener('peer:disconnect', resolve, { once: true });
    });
    await dialer.stop();
    await listener.stop();
    await gone;
    await waitFor(() => relay.reservations() === 0, 5000, 'the reservation to be released');
  });

  it('lets 50 clients from one IP connect at once', async () => {
    const relay = await startRelay();
    const address = relayAddr(relay);
    const clients = await Promise.all(Array.from({ length: 50 }, () => client({ quiet: true })));
    const results = await Promise.allSettled(clients.map((c) => c.dial(address)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    await waitFor(() => relay.peers().length === 50, 10_000, '50 peers at the relay');
    await Promise.all(
      clients.map(async (c) => {
        await c.stop();
      }),
    );
    await waitFor(() => relay.peers().length === 0, 10_000, 'the crowd to leave');
  });

  it('turns most of that crowd away with libp2p-like per-IP limits (the control for the test above)', async () => {
    const relay = await startRelay({ inboundConnectionThreshold: 5, maxIncomingPendingConnections: 10 });
    const address = relayAddr(relay);
    const clients = await Promise.all(Array.from({ length: 50 }, () => client({ quiet: true })));
    const results = await Promise.allSettled(clients.map((c) => c.dial(address)));
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThan(25);
  });

  it('shares an existing HTTP server: libp2p on "/", the app and its WebSocket elsewhere', async () => {
    const server = http.createServer((_req, res) => res.end('app'));
    const appSockets = new WebSocketServer({ noServer: true });
    appSockets.on('connection', (socket) => {
      socket.send('event');
    });
    server.on('upgrade', (req, socket, head) => {
      if (req.url?.startsWith('/api/events') !== true) return;
      appSockets.handleUpgrade(req, socket, head, (ws) => appSockets.emit('connection', ws, req));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) => {
          appSockets.close();
          server.close(resolve);
          server.closeAllConnections();
        }),
    );
    const port = (server.address() as { port: number }).port;
    const announce = '/dns4/relay.example.ts.net/tcp/443/tls/ws';
    const relay = await startRelay({ httpServer: server, port: false, announce: [announce] });
    const addrs = relay.multiaddrs().map((ma) => ma.toString());
    expect(addrs).toContain(`/ip4/127.0.0.1/tcp/${port}/ws/p2p/${relay.peerId.toString()}`);
    expect(addrs).toContain(`${announce}/p2p/${relay.peerId.toString()}`);
    expect(addrs).toHaveLength(2); // no port of its own

    const peer = await client();
    const identified = new Promise<string[]>((resolve) => {
      peer.addEventListener(
        'peer:identify',
        (event) => {
          resolve(event.detail.protocols);
        },
        { once: true },
      );
    });
    const connection = await peer.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}/ws/p2p/${relay.peerId.toString()}`));
    expect(connection.remotePeer.equals(relay.peerId)).toBe(true);
    expect(await identified).toContain('/libp2p/circuit/relay/0.2.0/hop');

    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('app');
    const event = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events`);
      ws.once('message', (data: Buffer) => {
        resolve(data.toString());
        ws.close();
      });
      ws.once('error', reject);
    });
    expect(event).toBe('event');
  });

  it('keeps its identity across restarts, and its PeerId is its ledger account id', async () => {
    const first = await createRelayNode({ dataDir, host: '127.0.0.1', port: 0 });
    await first.start();
    const firstAddr = relayAddr(first).toString();
    await first.stop();
    const second = await createRelayNode({ dataDir, host: '127.0.0.1', port: 0 });
    expect(second.peerId.toString()).toBe(first.peerId.toString());
    expect(second.peerId.toString()).toBe(accountIdFromPublicKey(second.key.signer.publicKey));
    expect(second.peerId.toString()).toBe(createNobleSigner(second.key.seed).accountId);
    expect(firstAddr.endsWith(`/p2p/${second.peerId.toString()}`)).toBe(true);
    // A second start of the same node works too (libp2p restarts in place).
    await first.start();
    expect(relayAddr(first).toString()).toContain(first.peerId.toString());
    await first.stop();
  });
});
