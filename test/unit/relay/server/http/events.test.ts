/**
 * The event WebSocket hub against real `ws` clients on a loopback HTTP server:
 * delivery, account filters, refused upgrades, heartbeats, backpressure and
 * shutdown.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { blockMinedData, createEventHub, type EventHub, type EventHubInit } from '#server/http/events.ts';
import type { BlockHash, TxId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';

interface Message {
  readonly type: string;
  readonly data: unknown;
  readonly ts: number;
}

/** A `ws` client that queues what it receives. */
interface TestClient {
  readonly socket: WebSocket;
  next(): Promise<Message>;
  /** Messages received and not yet taken by `next()`. */
  readonly queued: Message[];
  readonly closed: Promise<number>;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.useRealTimers();
});

const ALICE = generateNobleSigner().accountId;
const BOB = generateNobleSigner().accountId;

async function startHub(init: Partial<EventHubInit> = {}): Promise<{ hub: EventHub; server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  const hub = createEventHub({ server, ...init });
  hub.start();
  cleanups.push(() => hub.stop());
  const { port } = server.address() as AddressInfo;
  return { hub, server, url: `ws://127.0.0.1:${port}` };
}

async function connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const socket = new WebSocket(url, options);
  const queued: Message[] = [];
  const waiting: ((message: Message) => void)[] = [];
  socket.on('message', (data: Buffer, isBinary) => {
    expect(isBinary).toBe(false);
    const message = JSON.parse(data.toString('utf8')) as Message;
    const waiter = waiting.shift();
    if (waiter === undefined) queued.push(message);
    else waiter(message);
  });
  const closed = new Promise<number>((resolve) => socket.once('close', resolve));
  cleanups.push(async () => {
    socket.terminate();
    await closed;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    queued,
    closed,
    next: () => {
      const message = queued.shift();
      return message === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(message);
    },
  };
}

/** The status and JSON body of a refused upgrade. */
async function refusal(url: string): Promise<{ status: number; body: unknown; retryAfter: string | undefined }> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      reject(new Error('the upgrade was accepted'));
    });
    socket.once('error', () => undefined);
    socket.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), retryAfter });
      });
    });
  });
}

describe('createEventHub', () => {
  it('delivers events to every client', async () => {
    const { hub, url } = await startHub({ now: () => 1234 });
    const a = await connect(`${url}/api/events`);
    const b = await connect(`${url}/api/events`);
    expect(hub.clients()).toBe(2);

    expect(hub.publish('peer_connected', { peers: 3 })).toBe(2);
    expect(await a.next()).toEqual({ type: 'peer_connected', data: { peers: 3 }, ts: 1234 });
    expect(await b.next()).toEqual({ type: 'peer_connected', data: { peers: 3 }, ts: 1234 });
    expect(hub.skippedSends()).toBe(0);
  });

  it('sends events about accounts only to clients without a filter or with a matching one', async () => {
    const { hub, url } = await startHub();
    const everything = await connect(`${url}/api/events`);
    const alice = await connect(`${url}/api/events?account=${ALICE}`);
    const bob = await connect(`${url}/api/events`);
    bob.socket.send(JSON.stringify({ subscribe: { account: BOB } }));
    expect(await bob.next()).toMatchObject({ type: 'subscribed', data: { account: BOB } });

    expect(hub.publish('task_submitted', { task: 1 }, { accounts: [ALICE] })).toBe(2);
    expect(hub.publish('task_completed', { task: 2 }, { accounts: [BOB, BOB] })).toBe(2);
    expect(hub.publish('resource_updated', { task: 3 }, { accounts: [ALICE, BOB] })).toBe(3);
    expect(hub.publish('block_mined', { task: 4 })).toBe(3);
    const types = async (client: TestClient, n: number) =>
      (await Promise.all(Array.from({ length: n }, () => client.next()))).map((m) => m.type);
    expect(await types(everything, 4)).toEqual(['task_submitted', 'task_completed', 'resource_updated', 'block_mined']);
    expect(await types(alice, 3)).toEqual(['task_submitted', 'resource_updated', 'block_mined']);
    expect(await types(bob, 3)).toEqual(['task_completed', 'resource_updated', 'block_mined']);

    // `null` clears the filter.
    alice.socket.send(JSON.stringify({ subscribe: { account: null } }));
    expect(await alice.next()).toMatchObject({ type: 'subscribed', data: { account: null } });
    expect(hub.publish('task_submitted', { task: 5 }, { accounts: [BOB] })).toBe(3);
    expect((await alice.next()).data).toEqual({ task: 5 });
  });

  it('refuses bad accounts at the upgrade and in subscriptions', async () => {
    const { hub, url } = await startHub();
    const bad = await refusal(`${url}/api/events?account=not-an-account`);
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid-id' } } });
    const two = await refusal(`${url}/api/events?account=${ALICE}&account=${BOB}`);
    expect(two).toMatchObject({ status: 400, body: { error: { code: 'bad-request' } } });
    expect(hub.clients()).toBe(0);

    const client = await connect(`${url}/api/events`);
    client.socket.send(JSON.stringify({ subscribe: { account: 'nope' } }));
    expect(await client.next()).toMatchObject({ type: 'error', data: { code: 'invalid-id' } });
    client.socket.send('not json');
    expect(await client.next()).toMatchObject({ type: 'error', data: { code: 'bad-request' } });
    client.socket.send(JSON.stringify({ subscribe: { account: ALICE }, extra: 1 }));
    expect(await client.next()).toMatchObject({ type: 'error', data: { code: 'bad-request' } });
    // Still connected, still unfiltered.
    expect(hub.publish('task_submitted', {}, { accounts: [BOB] })).toBe(1);
  });

  it('leaves upgrades on other paths to their own handlers', async () => {
    const { hub, server, url } = await startHub();
    const other = new WebSocketServer({ noServer: true });
    cleanups.push(
      () =>
        new Promise((resolve) => {
          other.close(resolve);
        }),
    );
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/other') return;
      other.handleUpgrade(req, socket, head, (ws) => {
        ws.send('other');
      });
    });
    const client = new WebSocket(`${url}/other`);
    const first = await new Promise<string>((resolve) => {
      client.once('message', (data: Buffer) => {
        resolve(String(data));
      });
    });
    client.terminate();
    expect(first).toBe('other');
    expect(hub.clients()).toBe(0);
  });

  it('turns clients away beyond maxClients', async () => {
    const { hub, url } = await startHub({ maxClients: 1 });
    await connect(`${url}/api/events`);
    const full = await refusal(`${url}/api/events`);
    expect(full).toMatchObject({ status: 503, body: { error: { code: 'not-ready' } }, retryAfter: '30' });
    expect(hub.clients()).toBe(1);
  });

  it('pings clients and drops one that stops answering', async () => {
    // The heartbeat runs on a fake clock; the sockets stay real.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { hub, url } = await startHub({ heartbeatMs: 100 });
    const live = await connect(`${url}/api/events`);
    const dead = await connect(`${url}/api/events`, { autoPong: false });
    let pings = 0;
    live.socket.on('ping', () => pings++);
    /** One heartbeat; a reply to a message sent after the live client's pong shows the hub has that pong. */
    async function beat(): Promise<void> {
      const pinged = new Promise((resolve) => live.socket.once('ping', resolve));
      await vi.advanceTimersByTimeAsync(100);
      await pinged;
      live.socket.send(JSON.stringify({ subscribe: { account: null } }));
      expect(await live.next()).toMatchObject({ type: 'subscribed' });
    }
    await beat(); // both are pinged; only the live one answers
    await beat(); // the dead one is dropped
    expect(await dead.closed).toBe(1006);
    await beat();
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(live.socket.readyState).toBe(WebSocket.OPEN);
    expect(hub.clients()).toBe(1);
  });

  it('skips clients that fall behind', async () => {
    const { hub, url } = await startHub({ maxBufferedBytes: 64 * 1024 });
    const slow = await connect(`${url}/api/events`);
    const fast = await connect(`${url}/api/events`);
    slow.socket.pause();
    const big = 'x'.repeat(512 * 1024);
    let sentToSlow = 0;
    for (let i = 0; i < 64; i++) {
      const sent = hub.publish('resource_updated', { i, big });
      sentToSlow += sent - 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(hub.skippedSends()).toBeGreaterThan(0);
    expect(sentToSlow + hub.skippedSends()).toBe(64);
    // The fast client got everything; the slow one, once it reads again, what was sent to it, in order.
    for (let i = 0; i < 64; i++) expect((await fast.next()).data).toMatchObject({ i });
    slow.socket.resume();
    let last = -1;
    for (let n = 0; n < sentToSlow; n++) {
      const { i } = (await slow.next()).data as { i: number };
      expect(i).toBeGreaterThan(last);
      last = i;
    }
  });

  it('closes every client with 1001 on stop', async () => {
    const { hub, server, url } = await startHub();
    const a = await connect(`${url}/api/events?account=${ALICE}`);
    const b = await connect(`${url}/api/events`);
    await hub.stop();
    expect(hub.clients()).toBe(0);
    expect(await a.closed).toBe(1001);
    expect(await b.closed).toBe(1001);
    expect(hub.publish('block_mined', {})).toBe(0);
    expect(server.listenerCount('upgrade')).toBe(0);
    await hub.stop(); // twice is fine
  });
});

describe('blockMinedData', () => {
  it('keeps what clients need and leaves the header and tx ids out', () => {
    const id = 'ab'.repeat(32) as BlockHash;
    const block = { height: 9, id, header: new Uint8Array(3), ts: 5, txIds: ['cd'.repeat(32) as TxId] };
    expect(blockMinedData(block)).toEqual({ height: 9, id, ts: 5, txCount: 1 });
  });
});
