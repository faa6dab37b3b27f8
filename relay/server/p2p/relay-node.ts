/**
 * The relay's libp2p node: a circuit-relay-v2 *server* that phones and desktop
 * browsers reach over WebSockets, so they can find each other and set up
 * WebRTC. Application traffic belongs on WebRTC; relayed connections are kept
 * small (short, few bytes) and only carry signalling.
 *
 * Settings chosen for a crowd of phones, most of them idle:
 * - Connection limits sized for thousands of peers, many behind one carrier
 *   NAT (one IP): libp2p's defaults (300 connections, 10 pending, 5 new
 *   connections per second per IP) turn most of such a crowd away.
 * - Reservations: libp2p's default cap is 15, held until a 2 h TTL ends even
 *   after the peer leaves. Here the cap is an option, and a reservation is
 *   released as soon as its peer disconnects (its circuit address is useless then).
 * - No libp2p liveness pings: the connection monitor would ping every peer
 *   every 10 s (about 1 ms of CPU each, 45% of a core at 2,000 peers) and yamux
 *   keepalive would do the same every 30 s. Dead peers are found by TCP
 *   keepalive in the kernel instead (see `tcpKeepAliveMs`), at no CPU cost
 *   here. `pingIntervalMs` turns the monitor back on if ever wanted.
 * - A disconnected peer is dropped from the peer store, so memory follows the
 *   peers connected now, not every peer ever seen.
 *
 * WebSockets are accepted on a port of the relay's own and/or on the app's
 * existing HTTP(S) server (one origin for both behind a TLS proxy); see
 * `websocket-listener.ts`.
 */
import type http from 'node:http';
import type https from 'node:https';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2';
import { identify, type Identify } from '@libp2p/identify';
import { TypedEventEmitter, type ComponentLogger, type Connection, type Libp2p, type PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { ping, type Ping } from '@libp2p/ping';
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import envPaths from 'env-paths';
import { createLibp2p } from 'libp2p';
import { Counter, Gauge, type Registry } from 'prom-client';
import { loadOrCreateRelayKey, type RelayKey } from '../identity/relay-key.ts';
import { silentLogger } from '#node/silent-logger.ts';
import { relayWebSockets, sharedListenAddr, type SharedHttpServer } from './websocket-listener.ts';

/** The app's default HTTP port; the relay's own libp2p port defaults to the next one. */
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_P2P_PORT = DEFAULT_HTTP_PORT + 1;

export interface RelayNodeInit {
  /** The relay identity. Default: loaded (or created) from `dataDir`. */
  readonly key?: RelayKey;
  /** Where the relay key lives when `key` is not given. Default: the OS data dir for `ai-compute-network`. */
  readonly dataDir?: string;
  /** Interface for the relay's own libp2p port. Default `0.0.0.0`. */
  readonly host?: string;
  /**
   * The relay's own libp2p WebSocket port (0 picks a free one; `false` for none,
   * when `httpServer` carries libp2p alone). Default {@link DEFAULT_P2P_PORT}
   * without `httpServer`, none with it.
   */
  readonly port?: number | false;
  /** TLS for the relay's own port: it then serves `/tls/ws` (wss). Default: plain `/ws`. */
  readonly tls?: https.ServerOptions;
  /**
   * The app's HTTP(S) server, to accept libp2p WebSockets on as well: upgrade
   * requests for `httpPath` go to libp2p. It must be listening before `start()`.
   * Default: none.
   */
  readonly httpServer?: http.Server | https.Server;
  /** Upgrade path on `httpServer`. Stock libp2p clients always ask for `/`. Default `/`. */
  readonly httpPath?: string;
  /**
   * Extra addresses to announce, e.g. `/dns4/relay.example.ts.net/tcp/443/tls/ws`
   * when a TLS proxy or tunnel fronts the relay. Default none.
   */
  readonly announce?: readonly string[];
  /** Circuit-relay reservations held at once. Default 1024. */
  readonly maxReservations?: number;
  /** How long a reservation lasts unless its peer leaves first, in ms. Default 30 min. */
  readonly reservationTtl?: number;
  /** Longest a relayed connection may live, in ms (signalling only). Default 2 min. */
  readonly defaultDurationLimit?: number;
  /** Most bytes a relayed connection may carry each way. Default 128 KiB. */
  readonly defaultDataLimit?: number;
  /** Release a peer's reservation when it disconnects. Default true. */
  readonly releaseReservationOnDisconnect?: boolean;
  /** libp2p connections held at once. Default 10,000 (each needs a file descriptor). */
  readonly maxConnections?: number;
  /** Connections being set up (noise + yamux) at once. Default 256. */
  readonly maxIncomingPendingConnections?: number;
  /** New inbound connections per second from one IP (a carrier NAT is one IP). Default 1000. */
  readonly inboundConnectionThreshold?: number;
  /** TCP keepalive on each peer socket, in ms; finds vanished peers. 0 turns it off. Default 60 s. */
  readonly tcpKeepAliveMs?: number;
  /** libp2p's connection monitor ping interval in ms; 0 turns the monitor off. Default 0. */
  readonly pingIntervalMs?: number;
  /**
   * libp2p's logger. Default: silent unless the `DEBUG` environment variable is
   * set (then libp2p's own `debug` logger, e.g. `DEBUG=libp2p*,acn*`).
   */
  readonly logger?: ComponentLogger;
  /** A prom-client registry for connection and reservation metrics. Default none. */
  readonly metrics?: Registry;
}

/** One connected peer. */
export interface RelayPeer {
  /** Its PeerId (for our clients, the account id). */
  readonly id: string;
  /** Where it connected from (without the `/p2p/<id>` suffix). */
  readonly remoteAddr: string;
  readonly direction: 'inbound' | 'outbound';
  /** When its oldest open connection opened. */
  readonly since: Date;
}

export interface RelayNodeEvents {
  'peer:connect': CustomEvent<RelayPeer>;
  'peer:disconnect': CustomEvent<{ readonly id: string }>;
}

export interface RelayNodeServices extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
  relay: CircuitRelayService;
}

export interface RelayNode extends TypedEventEmitter<RelayNodeEvents> {
  /** The relay's PeerId, equal to its ledger account id. */
  readonly peerId: PeerId;
  readonly key: RelayKey;
  /** The libp2p node, once started (for diagnostics and tests). */
  readonly libp2p: Libp2p<RelayNodeServices> | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The addresses clients dial, each ending in `/p2p/<peerId>`. Empty until started. */
  multiaddrs(): Multiaddr[];
  peers(): RelayPeer[];
  /** Reservations held now. */
  reservations(): number;
}

const MINUTE = 60_000;
const DEFAULT_MAX_RESERVATIONS = 1024;

/** Builds the relay node (not started). */
export async function createRelayNode(init: RelayNodeInit = {}): Promise<RelayNode> {
  const key =
    init.key ?? (await loadOrCreateRelayKey(init.dataDir ?? envPaths('ai-compute-network', { suffix: '' }).data));
  const node = new RelayNodeImpl(key, init);
  if (init.metrics !== undefined) node.registerMetrics(init.metrics);
  return node;
}

class RelayNodeImpl extends TypedEventEmitter<RelayNodeEvents> implements RelayNode {
  readonly peerId: PeerId;
  readonly key: RelayKey;
  libp2p: Libp2p<RelayNodeServices> | undefined;
  private readonly init: RelayNodeInit;
  private building: Promise<Libp2p<RelayNodeServices>> | undefined;
  private connects: Counter | undefined;
  private disconnects: Counter | undefined;

  constructor(key: RelayKey, init: RelayNodeInit) {
    super();
    this.key = key;
    this.init = init;
    this.peerId = peerIdFromPrivateKey(key.privateKey);
  }

  async start(): Promise<void> {
    this.building ??= this.build();
    this.libp2p = await this.building;
    await this.libp2p.start();
  }

  async stop(): Promise<void> {
    await this.libp2p?.stop();
  }

  multiaddrs(): Multiaddr[] {
    return this.libp2p?.status === 'started' ? this.libp2p.getMultiaddrs() : [];
  }

  peers(): RelayPeer[] {
    const node = this.libp2p;
    if (node === undefined) return [];
    const peers: RelayPeer[] = [];
    for (const peerId of node.getPeers()) {
      const peer = describe(node.getConnections(peerId));
      if (peer !== undefined) peers.push(peer);
    }
    return peers;
  }

  reservations(): number {
    return this.libp2p?.services.relay.reservations.size ?? 0;
  }

  registerMetrics(registry: Registry): void {
    const registers = [registry];
    const peers: Gauge = new Gauge({
      name: 'acn_relay_p2p_peers',
      help: 'Peers connected to the relay over libp2p',
      registers,
      collect: () => {
        peers.set(this.libp2p?.getPeers().length ?? 0);
      },
    });
    const connections = new Gauge<'direction'>({
      name: 'acn_relay_p2p_connections',
      help: 'Open libp2p connections, by direction',
      labelNames: ['direction'],
      registers,
      collect: () => {
        let inbound = 0;
        let outbound = 0;
        for (const connection of this.libp2p?.getConnections() ?? []) {
          if (connection.direction === 'inbound') inbound++;
          else outbound++;
        }
        connections.set({ direction: 'inbound' }, inbound);
        connections.set({ direction: 'outbound' }, outbound);
      },
    });
    const reservations: Gauge = new Gauge({
      name: 'acn_relay_p2p_reservations',
      help: 'Circuit-relay reservations held',
      registers,
      collect: () => {
        reservations.set(this.reservations());
      },
    });
    new Gauge({
      name: 'acn_relay_p2p_max_reservations',
      help: 'Circuit-relay reservations the relay will hold at once',
      registers,
    }).set(this.init.maxReservations ?? DEFAULT_MAX_RESERVATIONS);
    this.connects = new Counter({ name: 'acn_relay_p2p_peer_connects_total', help: 'Peers that connected', registers });
    this.disconnects = new Counter({
      name: 'acn_relay_p2p_peer_disconnects_total',
      help: 'Peers that disconnected',
      registers,
    });
  }

  private async build(): Promise<Libp2p<RelayNodeServices>> {
    const init = this.init;
    const shared: SharedHttpServer | undefined =
      init.httpServer === undefined ? undefined : { server: init.httpServer, path: init.httpPath ?? '/' };
    const port = init.port ?? (shared === undefined ? DEFAULT_P2P_PORT : false);
    const listen: string[] = [];
    if (port !== false) listen.push(ownListenAddr(init.host ?? '0.0.0.0', port, init.tls !== undefined));
    if (shared !== undefined) listen.push(sharedListenAddr(shared).toString());
    if (listen.length === 0) throw new TypeError('the relay needs a port or an httpServer to listen on');
    for (const address of init.announce ?? []) multiaddr(address); // throws early on a malformed address

    const pingIntervalMs = init.pingIntervalMs ?? 0;
    const node = await createLibp2p<RelayNodeServices>({
      start: false,
      ...libp2pLogger(init.logger),
      privateKey: this.key.privateKey,
      addresses: { listen, appendAnnounce: [...(init.announce ?? [])] },
      transports: [
        relayWebSockets({
          ...(shared === undefined ? {} : { shared }),
          ...(init.tls === undefined ? {} : { tls: init.tls }),
          ...(init.tcpKeepAliveMs === undefined ? {} : { tcpKeepAliveMs: init.tcpKeepAliveMs }),
        }),
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ enableKeepAlive: false })],
      connectionManager: {
        maxConnections: init.maxConnections ?? 10_000,
        maxIncomingPendingConnections: init.maxIncomingPendingConnections ?? 256,
        inboundConnectionThreshold: init.inboundConnectionThreshold ?? 1000,
      },
      connectionMonitor: pingIntervalMs > 0 ? { enabled: true, pingInterval: pingIntervalMs } : { enabled: false },
      services: {
        // The relay answers identify (clients learn it speaks circuit relay) but
        // does not ask: it needs nothing from a client's identify record.
        identify: identify({ runOnConnectionOpen: false }),
        ping: ping(),
        relay: circuitRelayServer({
          reservations: {
            maxReservations: init.maxReservations ?? DEFAULT_MAX_RESERVATIONS,
            reservationTtl: init.reservationTtl ?? 30 * MINUTE,
            defaultDurationLimit: init.defaultDurationLimit ?? 2 * MINUTE,
            defaultDataLimit: BigInt(init.defaultDataLimit ?? 128 * 1024),
          },
        }),
      },
    });
    this.wire(node);
    return node;
  }

  private wire(node: Libp2p<RelayNodeServices>): void {
    const release = this.init.releaseReservationOnDisconnect ?? true;
    node.addEventListener('peer:connect', (event) => {
      this.connects?.inc();
      const peer = describe(node.getConnections(event.detail));
      if (peer !== undefined) this.safeDispatchEvent('peer:connect', { detail: peer });
    });
    node.addEventListener('peer:disconnect', (event) => {
      const peerId = event.detail;
      this.disconnects?.inc();
      if (release) {
        const reservation = node.services.relay.reservations.get(peerId);
        if (reservation !== undefined) {
          // Stop its expiry timer first: when it fired it would delete a newer reservation of the same peer.
          reservation.signal.clear();
          node.services.relay.reservations.delete(peerId);
        }
      }
      // Nothing about a departed peer is needed again; keep memory to the peers connected now.
      node.peerStore.delete(peerId).catch(() => undefined);
      this.safeDispatchEvent('peer:disconnect', { detail: { id: peerId.toString() } });
    });
  }
}

function libp2pLogger(logger: ComponentLogger | undefined): { logger?: ComponentLogger } {
  if (logger !== undefined) return { logger };
  return process.env.DEBUG === undefined || process.env.DEBUG === '' ? { logger: silentLogger } : {};
}

function ownListenAddr(host: string, port: number, secure: boolean): string {
  const family = host.includes(':') ? 'ip6' : 'ip4';
  return `/${family}/${host}/tcp/${port}/${secure ? 'tls/ws' : 'ws'}`;
}

function describe(connections: readonly Connection[]): RelayPeer | undefined {
  let oldest: Connection | undefined;
  for (const connection of connections) {
    if (oldest === undefined || connection.timeline.open < oldest.timeline.open) oldest = connection;
  }
  if (oldest === undefined) return undefined;
  return {
    id: oldest.remotePeer.toString(),
    remoteAddr: oldest.remoteAddr.decapsulateCode(CODE_P2P).toString(),
    direction: oldest.direction,
    since: new Date(oldest.timeline.open),
  };
}
