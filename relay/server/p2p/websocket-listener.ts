/**
 * A listen-only libp2p WebSocket transport for the relay.
 *
 * `@libp2p/websockets` (10.x) always binds its own port: its listener creates
 * a private `net.Server` plus `http`/`https` servers and takes no existing
 * server, path or upgrade hook (its options are only `http`/`https`
 * *ServerOptions*). Behind one HTTPS origin (Tailscale serve, Caddy, a tunnel)
 * a phone could then reach the app but not libp2p. This transport accepts
 * libp2p WebSockets either on a port of its own or on WebSocket upgrades of
 * an existing `http.Server`/`https.Server` (the express app's) at one path.
 *
 * Stock libp2p clients put no path in a `/ws` multiaddr, so they always ask
 * for `/`: on a shared server the app's own WebSockets must use other paths,
 * and must leave upgrades they do not own alone (`ws` with `{ server, path }`
 * answers 400 to every other path, so use `noServer` and route by path).
 *
 * It also turns on TCP keepalive for every socket, so a phone that vanishes
 * without closing (a carrier NAT drops its mapping) is found by the kernel
 * instead of by libp2p pings that cost CPU per peer.
 *
 * The relay never dials, so `dial` is unsupported.
 */
import http from 'node:http';
import https from 'node:https';
import { setMaxListeners } from 'node:events';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  serviceCapabilities,
  transportSymbol,
  TypedEventEmitter,
  UnsupportedOperationError,
  type ComponentLogger,
  type CreateListenerOptions,
  type Listener,
  type ListenerEvents,
  type Logger,
  type Transport,
  type Upgrader,
} from '@libp2p/interface';
import { AbstractMultiaddrConnection, getThinWaistAddresses, type SendResult } from '@libp2p/utils';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Uint8ArrayList } from 'uint8arraylist';
import { WebSocketServer, type WebSocket } from 'ws';

/** An existing HTTP(S) server that also carries libp2p WebSockets. */
export interface SharedHttpServer {
  readonly server: http.Server | https.Server;
  /** Upgrade requests for this path (query ignored) go to libp2p. */
  readonly path: string;
}

export interface RelayWebSocketsInit {
  /**
   * A server to share. A listen multiaddr whose port is this server's bound
   * port attaches to it instead of binding; build it with {@link sharedListenAddr}.
   */
  readonly shared?: SharedHttpServer;
  /** TLS for servers this transport binds itself (announced as `/tls/ws`). */
  readonly tls?: https.ServerOptions;
  /** TCP keepalive delay on each socket, in ms; 0 turns it off. Default 60 s. */
  readonly tcpKeepAliveMs?: number;
  /** Largest WebSocket message accepted. Default 4 MiB (libp2p's read buffer limit). */
  readonly maxPayload?: number;
  /** Unsent bytes in the socket before writers are asked to wait. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
}

export interface RelayWebSocketsComponents {
  readonly logger: ComponentLogger;
}

const DEFAULT_TCP_KEEPALIVE_MS = 60_000;
const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024;
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
// WebSocket close codes that mean an orderly close (normal, and "no status given").
const CLEAN_CLOSE_CODES = new Set([1000, 1005]);

/** The listen multiaddr that makes the transport attach to `shared` (it must be listening). */
export function sharedListenAddr(shared: SharedHttpServer): Multiaddr {
  const address = shared.server.address();
  if (address === null || typeof address === 'string') {
    throw new TypeError('the shared HTTP server must be listening on a TCP port before the relay starts');
  }
  const family = address.family === 'IPv6' ? 'ip6' : 'ip4';
  const secure = shared.server instanceof https.Server;
  return multiaddr(`/${family}/${address.address}/tcp/${address.port}/${secure ? 'tls/ws' : 'ws'}`);
}

/** The transport factory, in the shape `createLibp2p({ transports })` takes. */
export function relayWebSockets(init: RelayWebSocketsInit = {}): (components: RelayWebSocketsComponents) => Transport {
  return (components) => new RelayWebSockets(components, init);
}

interface ListenTarget {
  readonly family: 'ip4' | 'ip6';
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
}

function parseListenAddr(ma: Multiaddr): ListenTarget | undefined {
  const parts = ma.getComponents();
  const [ip, tcp, ...rest] = parts;
  if (ip === undefined || tcp?.name !== 'tcp') return undefined;
  if ((ip.name !== 'ip4' && ip.name !== 'ip6') || ip.value === undefined) return undefined;
  const tail = rest.map((c) => c.name).join('/');
  if (tail !== 'ws' && tail !== 'tls/ws' && tail !== 'wss') return undefined;
  return { family: ip.name, host: ip.value, port: Number(tcp.value), secure: tail !== 'ws' };
}

class RelayWebSockets implements Transport {
  readonly [transportSymbol] = true as const;
  readonly [Symbol.toStringTag] = '@acn/relay-websockets';
  readonly [serviceCapabilities] = ['@libp2p/transport'];

  private readonly components: RelayWebSocketsComponents;
  private readonly init: RelayWebSocketsInit;

  constructor(components: RelayWebSocketsComponents, init: RelayWebSocketsInit) {
    this.components = components;
    this.init = init;
  }

  dial(): Promise<never> {
    return Promise.reject(new UnsupportedOperationError('the relay WebSocket transport only listens'));
  }

  createListener(options: CreateListenerOptions): Listener {
    return new RelayWebSocketListener(this.components, this.init, options.upgrader);
  }

  listenFilter = (multiaddrs: Multiaddr[]): Multiaddr[] => multiaddrs.filter((ma) => parseListenAddr(ma) !== undefined);

  dialFilter = (): Multiaddr[] => [];
}

class RelayWebSocketListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly log: Logger;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private readonly shutdown = new AbortController();
  private server: http.Server | https.Server | undefined;
  private owned = false;
  private path: string | undefined;
  private listenAddr: Multiaddr | undefined;
  private secure = false;

  private readonly components: RelayWebSocketsComponents;
  private readonly init: RelayWebSocketsInit;
  private readonly upgrader: Upgrader;

  constructor(components: RelayWebSocketsComponents, init: RelayWebSocketsInit, upgrader: Upgrader) {
    super();
    this.components = components;
    this.init = init;
    this.upgrader = upgrader;
    this.log = components.logger.forComponent('acn:relay:websockets');
    // One listener per in-flight upgrade; a crowd arriving at once is expected.
    setMaxListeners(Infinity, this.shutdown.signal);
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: init.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    });
  }

  async listen(ma: Multiaddr): Promise<void> {
    const target = parseListenAddr(ma);
    if (target === undefined) throw new TypeError(`not a WebSocket listen address: ${ma.toString()}`);
    const shared = this.init.shared;
    const sharedAddress = shared?.server.address();
    const sharedPort = typeof sharedAddress === 'object' ? sharedAddress?.port : undefined;
    if (shared !== undefined && sharedPort === target.port) {
      this.server = shared.server;
      this.path = shared.path;
      this.owned = false;
    } else {
      if (target.secure && this.init.tls === undefined) {
        throw new TypeError(`${ma.toString()} needs TLS options (a certificate and key)`);
      }
      const refuse: http.RequestListener = (_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
        res.end('libp2p WebSocket endpoint\n');
      };
      this.server = target.secure ? https.createServer(this.init.tls ?? {}, refuse) : http.createServer(refuse);
      this.owned = true;
      await new Promise<void>((resolve, reject) => {
        const server = this.server as http.Server;
        server.once('error', reject);
        server.listen({ host: target.host, port: target.port, ipv6Only: target.family === 'ip6' }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
    this.secure = target.secure || this.server instanceof https.Server;
    this.listenAddr = ma;
    this.server.on('upgrade', this.onUpgrade);
    this.log('listening on %a (%s)', ma, this.owned ? 'own server' : `shared server, path ${this.path ?? ''}`);
    this.safeDispatchEvent('listening');
  }

  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.path !== undefined && pathOf(req.url) !== this.path) return; // another handler's upgrade
    if (this.shutdown.signal.aborted) {
      socket.destroy();
      return;
    }
    if (!(socket instanceof Socket)) {
      socket.destroy(); // an HTTP(S) server always hands over a net.Socket (or a TLSSocket)
      return;
    }
    const raw = socket;
    const keepAlive = this.init.tcpKeepAliveMs ?? DEFAULT_TCP_KEEPALIVE_MS;
    if (keepAlive > 0) raw.setKeepAlive(true, keepAlive);
    raw.setNoDelay(true);
    const remoteAddr = remoteMultiaddr(raw.remoteAddress, raw.remotePort, this.secure);
    socket.on('error', (error) => {
      this.log.trace('socket error before upgrade - %e', error);
    });
    this.wss.handleUpgrade(req, socket, head, (websocket) => {
      this.onWebSocket(websocket, raw, remoteAddr);
    });
  };

  private onWebSocket(websocket: WebSocket, raw: Socket, remoteAddr: Multiaddr): void {
    this.sockets.add(websocket);
    websocket.once('close', () => this.sockets.delete(websocket));
    const maConn = new WebSocketConnection({
      websocket,
      raw,
      remoteAddr,
      maxBufferedBytes: this.init.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      direction: 'inbound',
      log: this.components.logger.forComponent('acn:relay:websockets:connection'),
    });
    this.upgrader.upgradeInbound(maConn, { signal: this.shutdown.signal }).catch((error: unknown) => {
      this.log('inbound connection from %a failed to upgrade - %e', remoteAddr, error);
      maConn.abort(error instanceof Error ? error : new Error(String(error)));
    });
  }

  getAddrs(): Multiaddr[] {
    const address = this.server?.address();
    if (this.listenAddr === undefined || address === null || address === undefined || typeof address === 'string') {
      return [];
    }
    const suffix = this.secure ? '/tls/ws' : '/ws';
    return getThinWaistAddresses(this.listenAddr, address.port).map((ma) => ma.encapsulate(suffix));
  }

  updateAnnounceAddrs(): void {
    // Announce addresses are the address manager's business; nothing to adjust here.
  }

  async close(): Promise<void> {
    this.shutdown.abort();
    const server = this.server;
    server?.off('upgrade', this.onUpgrade);
    for (const websocket of this.sockets) websocket.terminate();
    this.sockets.clear();
    if (server !== undefined && this.owned) {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    }
    this.server = undefined;
    this.wss.close();
    this.safeDispatchEvent('close');
  }
}

function pathOf(url: string | undefined): string {
  const end = url?.search(/[?#]/) ?? -1;
  return url === undefined ? '/' : end === -1 ? url : url.slice(0, end);
}

function remoteMultiaddr(address: string | undefined, port: number | undefined, secure: boolean): Multiaddr {
  const host = address?.startsWith('::ffff:') === true ? address.slice(7) : (address ?? '0.0.0.0');
  const family = host.includes(':') ? 'ip6' : 'ip4';
  return multiaddr(`/${family}/${host}/tcp/${port ?? 0}/${secure ? 'tls/ws' : 'ws'}`);
}

interface WebSocketConnectionInit {
  readonly websocket: WebSocket;
  readonly raw: Socket;
  readonly remoteAddr: Multiaddr;
  readonly maxBufferedBytes: number;
  readonly direction: 'inbound';
  readonly log: Logger;
}

/** One accepted WebSocket as a libp2p MultiaddrConnection (raw bytes; noise and yamux go on top). */
class WebSocketConnection extends AbstractMultiaddrConnection {
  private readonly websocket: WebSocket;
  private readonly raw: Socket;
  private readonly maxBufferedBytes: number;
  private waitingForDrain = false;

  constructor(init: WebSocketConnectionInit) {
    super({ remoteAddr: init.remoteAddr, direction: init.direction, log: init.log });
    this.websocket = init.websocket;
    this.raw = init.raw;
    this.maxBufferedBytes = init.maxBufferedBytes;
    this.websocket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      this.onData(toBytes(data));
    });
    this.websocket.on('error', (error) => {
      this.log('websocket error - %e', error);
    });
    this.websocket.once('close', (code: number) => {
      if (this.status !== 'open' && this.status !== 'closing') return; // we closed or aborted it
      if (CLEAN_CLOSE_CODES.has(code)) this.onTransportClosed();
      else this.onRemoteReset();
    });
  }

  sendData(data: Uint8ArrayList): SendResult {
    for (const chunk of data) this.websocket.send(chunk);
    const canSendMore = this.raw.writableLength < this.maxBufferedBytes;
    if (!canSendMore && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.raw.once('drain', () => {
        this.waitingForDrain = false;
        this.safeDispatchEvent('drain');
      });
    }
    return { sentBytes: data.byteLength, canSendMore };
  }

  sendReset(): void {
    this.websocket.terminate();
  }

  sendClose(): Promise<void> {
    this.websocket.close(1000);
    return Promise.resolve();
  }

  sendPause(): void {
    this.websocket.pause();
  }

  sendResume(): void {
    this.websocket.resume();
  }
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
