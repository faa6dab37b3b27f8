/**
 * The browser's libp2p node, shared by the app (which dials workers) and the
 * browser worker (which listens): WebSockets to the relay, circuit relay for
 * signalling, WebRTC for the traffic itself.
 *
 * Import this module lazily (`await import(...)`): libp2p is a large chunk and
 * has no place on the app's first paint.
 *
 * Choices:
 * - Connection gater: a browser's default gater refuses plain `/ws` and private
 *   addresses, which is what a home relay is. This node may dial the relay's own
 *   transport address and addresses reached through it (circuit and WebRTC
 *   addresses behind `/p2p/<relay>`), and nothing else: it never wanders off to
 *   addresses a peer advertises.
 * - No liveness pings (connection monitor off, yamux keepalive off): a phone's
 *   radio and battery matter more than finding a dead peer a little sooner.
 * - No STUN/TURN servers unless given: host candidates connect peers on one
 *   LAN or one machine, and nothing is sent to a third party by default.
 * - @libp2p/webrtc 6.0.33 hangs about one dial in five on its init data
 *   channel; `relay/patches/` carries the fix (applied by `patch-package` on
 *   install) and test/e2e/webrtc-dials.test.ts dials many times to keep it so.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify, type Identify } from '@libp2p/identify';
import { InvalidMultiaddrError, type ConnectionGater, type Libp2p, type PrivateKey } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { webrtcAddresses } from '#client/p2p/webrtc-addresses.ts';

export interface BrowserNodeInit {
  /** The relay's libp2p address, ending in `/p2p/<relay peer id>` (`/ws` or `/tls/ws`, from the relay's banner). */
  readonly relayMultiaddr: Multiaddr | string;
  /** The node's identity (for the app, the account key). Default: a fresh Ed25519 key. */
  readonly privateKey?: PrivateKey;
  /**
   * Reserve a slot on the relay and accept WebRTC connections through it, as a
   * worker does. The returned node then already has its WebRTC address
   * (see {@link webrtcAddresses}). Default false: dial only.
   */
  readonly listen?: boolean;
  /** STUN/TURN servers for crossing NATs. Default none: host candidates only. */
  readonly iceServers?: readonly RTCIceServer[];
  /** Aborts creation; a node already started is stopped again. */
  readonly signal?: AbortSignal;
}

export interface BrowserNodeServices extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
}

export type BrowserNode = Libp2p<BrowserNodeServices>;

/**
 * Creates and starts a browser libp2p node connected to the relay at
 * `relayMultiaddr` (and, with `listen`, holding a reservation there).
 */
export async function createBrowserNode(init: BrowserNodeInit): Promise<BrowserNode> {
  init.signal?.throwIfAborted();
  const relay = typeof init.relayMultiaddr === 'string' ? multiaddr(init.relayMultiaddr) : init.relayMultiaddr;
  const last = relay.getComponents().at(-1);
  if (last?.code !== CODE_P2P) {
    throw new InvalidMultiaddrError(`relay address must end in /p2p/<peer id>: ${relay.toString()}`);
  }
  const listen = init.listen ?? false;
  const node = await createLibp2p<BrowserNodeServices>({
    start: false,
    ...(init.privateKey === undefined ? {} : { privateKey: init.privateKey }),
    addresses: {
      // A reservation on this relay in particular, and WebRTC signalling over it.
      listen: listen ? [`${relay.toString()}/p2p-circuit`, '/webrtc'] : [],
    },
    transports: [
      webSockets(),
      circuitRelayTransport(),
      webRTC({ rtcConfiguration: { iceServers: [...(init.iceServers ?? [])] } }),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionGater: relayOnlyGater(relay),
    connectionMonitor: { enabled: false },
    services: { identify: identify(), ping: ping() },
  });
  try {
    // Starting a listening node takes the reservation (circuit listen waits for it).
    await raceAbort(Promise.resolve(node.start()), init.signal);
    if (!listen) await node.dial(relay, init.signal === undefined ? {} : { signal: init.signal });
    else await waitForWebrtcAddress(node, init.signal);
    return node;
  } catch (error) {
    await node.stop();
    throw error;
  }
}

export { webrtcAddresses };

/**
 * Allows the relay's own transport address (`/ip4/…/tcp/…/ws` before its
 * `/p2p/<relay>`) and every address that goes through it; denies the rest.
 */
function relayOnlyGater(relay: Multiaddr): ConnectionGater {
  const transport = relay.decapsulateCode(CODE_P2P).toString();
  return {
    denyDialMultiaddr: (address) => {
      const text = address.toString();
      return text !== transport && !text.startsWith(`${transport}/`);
    },
  };
}

async function waitForWebrtcAddress(node: BrowserNode, signal: AbortSignal | undefined): Promise<void> {
  let check: () => void = () => undefined;
  const reserved = new Promise<void>((resolve) => {
    check = () => {
      if (webrtcAddresses(node).length > 0) resolve();
    };
  });
  node.addEventListener('self:peer:update', check);
  try {
    check();
    await raceAbort(reserved, signal);
  } finally {
    node.removeEventListener('self:peer:update', check);
  }
}

/** `promise`, or the signal's reason once it aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(signal.reason as Error);
    };
  });
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return Promise.race([promise, aborted]).finally(() => {
    signal.removeEventListener('abort', onAbort);
  });
}
