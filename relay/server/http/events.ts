/**
 * Live events for pages and dashboards over a WebSocket on the app's HTTP(S)
 * server (`/api/events` by default): tasks submitted and completed, resources
 * and peers coming and going, blocks mined.
 *
 * Every message the relay sends is JSON `{ type, data, ts }`. A client may
 * narrow what it receives to one account, with `?account=<AccountId>` on the
 * URL or later by sending `{ "subscribe": { "account": "…" } }` (`null`
 * clears it); the relay answers a subscription with `subscribed` or `error`.
 * Events about accounts go to clients without a filter and to those whose
 * filter matches; events about no account go to everyone.
 *
 * The hub shares the server with the libp2p WebSocket listener, so it answers
 * only upgrades on its own path and leaves the others alone.
 */
import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import * as v from 'valibot';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { parseAccountId, type AccountId, type BlockHash } from '#core/identity/ids.ts';
import type { LedgerBlock } from '../ledger/ledger-service.ts';
import { HttpError, toHttpError } from './errors.ts';

/** The kinds of event the relay publishes. */
export const EVENT_TYPES = [
  'task_submitted',
  'task_completed',
  'resource_updated',
  'peer_connected',
  'block_mined',
] as const;
export type RelayEventType = (typeof EVENT_TYPES)[number];

/** One event, as clients receive it (JSON). */
export interface RelayEvent {
  readonly type: RelayEventType;
  readonly data: unknown;
  /** When the relay published it, in ms since the epoch. */
  readonly ts: number;
}

/** The relay's answer to a client's own message (not an event). */
export type EventHubReply =
  | { readonly type: 'subscribed'; readonly data: { readonly account: AccountId | null }; readonly ts: number }
  | { readonly type: 'error'; readonly data: { readonly code: string; readonly message: string }; readonly ts: number };

/** The `data` of a `block_mined` event. */
export interface BlockMinedData {
  readonly height: number;
  readonly id: BlockHash;
  readonly ts: number;
  /** Transactions in the block; their ids are in the block (GET it) rather than sent to every client. */
  readonly txCount: number;
}

export const DEFAULT_EVENTS_PATH = '/api/events';
export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEFAULT_MAX_EVENT_CLIENTS = 10_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024;
export const DEFAULT_CLOSE_GRACE_MS = 1000;
/** Largest message a client may send (a subscription is about 100 bytes). */
const MAX_CLIENT_MESSAGE_BYTES = 4096;
/** WebSocket close code: the server is going away. */
const GOING_AWAY = 1001;

export interface EventHubInit {
  /** The app's HTTP(S) server; the hub answers its `upgrade` events on `path`. */
  readonly server: HttpServer | HttpsServer;
  /** The WebSocket path (query string aside). Default `/api/events`. */
  readonly path?: string;
  /** How often each client is pinged; one that has not answered the previous ping by then is dropped. Default 30 000 ms. */
  readonly heartbeatMs?: number;
  /** Clients held at once; further upgrades get 503. Default 10 000. */
  readonly maxClients?: number;
  /** Events are skipped for a client with more than this many bytes waiting to be sent. Default 64 KiB. */
  readonly maxBufferedBytes?: number;
  /** How long `stop()` waits for clients to acknowledge the close before cutting them off. Default 1000 ms. */
  readonly closeGraceMs?: number;
  /** The clock for `ts`, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

export interface PublishOptions {
  /** The accounts the event concerns: only clients without a filter or filtering on one of these get it. Default: everyone gets it. */
  readonly accounts?: readonly AccountId[];
}

export interface EventHub {
  /** Starts answering upgrades on the path and pinging clients. */
  start(): void;
  /** Stops taking clients, closes every client with 1001 and waits (at most `closeGraceMs`) for them to go. */
  stop(): Promise<void>;
  /** Sends an event to the clients it concerns; returns how many it was sent to. Does nothing when stopped. */
  publish(type: RelayEventType, data: unknown, options?: PublishOptions): number;
  /** Clients connected now. */
  clients(): number;
  /** Sends skipped so far because the client was too far behind. */
  skippedSends(): number;
}

interface Client {
  readonly socket: WebSocket;
  account: AccountId | undefined;
  /** Answered the last ping (or has had none yet). */
  alive: boolean;
}

const ClientMessage = v.strictObject({
  subscribe: v.strictObject({ account: v.nullable(v.string()) }),
});

/** The `data` of a `block_mined` event for a block the ledger service appended. */
export function blockMinedData(block: LedgerBlock): BlockMinedData {
  return { height: block.height, id: block.id, ts: block.ts, txCount: block.txIds.length };
}

/** Creates the hub; `start()` it once the server exists, `stop()` it before closing the server. */
export function createEventHub(init: EventHubInit): EventHub {
  const {
    server,
    path = DEFAULT_EVENTS_PATH,
    heartbeatMs = DEFAULT_HEARTBEAT_MS,
    maxClients = DEFAULT_MAX_EVENT_CLIENTS,
    maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES,
    closeGraceMs = DEFAULT_CLOSE_GRACE_MS,
    now = Date.now,
  } = init;
  // Clients rarely send anything: no compression, and a small message limit.
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: MAX_CLIENT_MESSAGE_BYTES });
  const all = new Set<Client>();
  const unfiltered = new Set<Client>();
  const byAccount = new Map<AccountId, Set<Client>>();
  let running = false;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let skipped = 0;

  function setFilter(client: Client, account: AccountId | undefined): void {
    unindex(client);
    client.account = account;
    if (account === undefined) {
      unfiltered.add(client);
      return;
    }
    let set = byAccount.get(account);
    if (set === undefined) byAccount.set(account, (set = new Set()));
    set.add(client);
  }

  function unindex(client: Client): void {
    unfiltered.delete(client);
    if (client.account === undefined) return;
    const set = byAccount.get(client.account);
    set?.delete(client);
    if (set?.size === 0) byAccount.delete(client.account);
  }

  /** Answers a client's message, unless it does not read what it is sent (it could flood us with requests). */
  function reply(client: Client, message: EventHubReply): void {
    const { socket } = client;
    if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount <= maxBufferedBytes) {
      socket.send(JSON.stringify(message));
    }
  }

  function onMessage(client: Client, data: RawData, isBinary: boolean): void {
    let parsed: unknown;
    try {
      parsed = isBinary ? undefined : JSON.parse(rawText(data));
    } catch {
      parsed = undefined;
    }
    const message = v.safeParse(ClientMessage, parsed);
    if (!message.success) {
      const error = { code: 'bad-request', message: 'expected {"subscribe":{"account":"<account id>"|null}}' };
      reply(client, { type: 'error', data: error, ts: now() });
      return;
    }
    const { account } = message.output.subscribe;
    if (account === null) {
      setFilter(client, undefined);
      reply(client, { type: 'subscribed', data: { account: null }, ts: now() });
      return;
    }
    const id = parseAccountId(account);
    if (!id.ok) {
      reply(client, { type: 'error', data: { code: id.error.code, message: id.error.message }, ts: now() });
      return;
    }
    setFilter(client, id.value);
    reply(client, { type: 'subscribed', data: { account: id.value }, ts: now() });
  }

  function accept(socket: WebSocket, account: AccountId | undefined): void {
    const client: Client = { socket, account: undefined, alive: true };
    all.add(client);
    setFilter(client, account);
    socket.on('pong', () => {
      client.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      onMessage(client, data, isBinary);
    });
    // A protocol error (e.g. an oversized message) closes the socket; nothing else to do.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      all.delete(client);
      unindex(client);
    });
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== path) return; // another handler's upgrade
    socket.on('error', () => undefined);
    if (all.size >= maxClients) {
      refuse(socket, new HttpError(503, 'not-ready', 'too many event clients; retry later'), 'Retry-After: 30\r\n');
      return;
    }
    const requested = new URLSearchParams(query === -1 ? '' : url.slice(query + 1)).getAll('account');
    let account: AccountId | undefined;
    if (requested.length > 1) {
      refuse(socket, new HttpError(400, 'bad-request', 'give at most one account'));
      return;
    }
    if (requested[0] !== undefined) {
      const parsed = parseAccountId(requested[0]);
      if (!parsed.ok) {
        refuse(socket, parsed.error);
        return;
      }
      account = parsed.value;
    }
    wss.handleUpgrade(req, socket, head, (websocket) => {
      if (running) accept(websocket, account);
      else websocket.close(GOING_AWAY, 'relay shutting down');
    });
  };

  function beat(): void {
    for (const client of all) {
      if (!client.alive) {
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      if (client.socket.readyState === WebSocket.OPEN) client.socket.ping();
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      server.on('upgrade', onUpgrade);
      heartbeat = setInterval(beat, heartbeatMs);
      heartbeat.unref();
    },

    async stop() {
      if (!running) return;
      running = false;
      server.off('upgrade', onUpgrade);
      clearInterval(heartbeat);
      const closing = [...all];
      const closed = Promise.all(
        closing.map(
          ({ socket }) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === WebSocket.CLOSED) resolve();
              else
                socket.once('close', () => {
                  resolve();
                });
            }),
        ),
      );
      for (const { socket } of closing) socket.close(GOING_AWAY, 'relay shutting down');
      const grace = AbortSignal.timeout(closeGraceMs);
      await Promise.race([
        closed,
        new Promise((resolve) => {
          grace.addEventListener('abort', resolve, { once: true });
        }),
      ]);
      for (const { socket } of closing) socket.terminate();
      await closed;
    },

    publish(type, data, options = {}) {
      if (!running) return 0;
      // Serialised once; sent as a text frame to each client.
      const bytes = Buffer.from(JSON.stringify({ type, data, ts: now() } satisfies RelayEvent));
      let sent = 0;
      const send = (client: Client): void => {
        const { socket } = client;
        if (socket.readyState !== WebSocket.OPEN) return;
        if (socket.bufferedAmount > maxBufferedBytes) {
          skipped++;
          return;
        }
        socket.send(bytes, { binary: false });
        sent++;
      };
      if (options.accounts === undefined) {
        for (const client of all) send(client);
        return sent;
      }
      for (const client of unfiltered) send(client);
      for (const account of new Set(options.accounts)) {
        for (const client of byAccount.get(account) ?? []) send(client);
      }
      return sent;
    },

    clients: () => all.size,
    skippedSends: () => skipped,
  };
}

/** Answers an upgrade with a plain HTTP error (the same JSON body as the API's) and closes the connection. */
function refuse(socket: Duplex, error: unknown, extraHeaders = ''): void {
  const { status, body } = toHttpError(error);
  const json = JSON.stringify(body);
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      extraHeaders +
      `\r\n${json}`,
  );
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
