/**
 * The Node worker's libp2p node: WebSockets to the relay (where adverts go
 * and brokered tasks come from), and, for the interactive path, a
 * circuit-relay reservation on that relay with WebRTC listening through it,
 * so clients can reach the worker directly (node-datachannel, whose binary
 * ships in its npm package, gives Node its WebRTC).
 *
 * Choices, as in the browser's node (web/p2p/create-browser-node.ts):
 * - The node dials the relay's addresses and addresses through the relay,
 *   never addresses that peers advertise.
 * - No STUN/TURN servers unless given: host candidates connect peers on one
 *   LAN or one machine, and nothing is sent to a third party by default.
 * - The reservation is best effort (`NO_FATAL`): a relay that refuses one
 *   still gets brokered tasks over the WebSocket connection.
 * - Liveness pings stay on: the worker has one connection that matters, and
 *   must notice soon when the relay is gone so it can reconnect.
 * - relay/patches/ carries three fixes to @libp2p/webrtc 6.0.33: its
 *   init-channel race; a dial whose RTCPeerConnection failed during
 *   signalling now fails at once instead of at the dial timeout; and a
 *   dialer sends its ICE candidates only once the answer is applied, since
 *   node-datachannel's libdatachannel 0.24 otherwise can start DTLS before
 *   it has stored the remote fingerprint and fail it (about one dial in
 *   twenty on a busy machine).
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify, type Identify } from '@libp2p/identify';
import { FaultTolerance, type ConnectionGater, type Libp2p, type PrivateKey } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { CODE_P2P, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { silentLogger } from '#node/silent-logger.ts';

export interface WorkerLibp2pInit {
  readonly privateKey: PrivateKey;
  /** The relay's addresses, each ending in `/p2p/<relay>`; the first is the one reserved on. */
  readonly relayAddrs: readonly Multiaddr[];
  /** Reserve on the relay and listen for WebRTC through it. Default true. */
  readonly webrtc?: boolean;
  /** STUN/TURN servers for crossing NATs. Default none. */
  readonly iceServers?: readonly IceServer[];
  /** libp2p's own `debug` logger (`DEBUG=libp2p*`) instead of a silent one. Default false. */
  readonly debug?: boolean;
}

/** A STUN or TURN server, as `RTCIceServer` describes one. */
export interface IceServer {
  readonly urls: string | string[];
  readonly username?: string;
  readonly credential?: string;
}

export interface WorkerLibp2pServices extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
}

export type WorkerLibp2p = Libp2p<WorkerLibp2pServices>;

/** Creates the node (not started). */
export async function createWorkerLibp2p(init: WorkerLibp2pInit): Promise<WorkerLibp2p> {
  const [primary] = init.relayAddrs;
  if (primary === undefined) throw new TypeError('the relay has no libp2p address');
  const webrtc = init.webrtc ?? true;
  return createLibp2p<WorkerLibp2pServices>({
    start: false,
    privateKey: init.privateKey,
    addresses: { listen: webrtc ? [`${primary.toString()}/p2p-circuit`, '/webrtc'] : [] },
    transports: [
      webSockets(),
      ...(webrtc
        ? [circuitRelayTransport(), webRTC({ rtcConfiguration: { iceServers: [...(init.iceServers ?? [])] } })]
        : []),
    ],
    transportManager: { faultTolerance: FaultTolerance.NO_FATAL },
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: relayOnlyGater(init.relayAddrs),
    ...(init.debug === true ? {} : { logger: silentLogger }),
    services: { identify: identify(), ping: ping() },
  });
}

/** Allows the relay's own transport addresses and every address that goes through one; denies the rest. */
function relayOnlyGater(relayAddrs: readonly Multiaddr[]): ConnectionGater {
  const transports = relayAddrs.map((address) => address.decapsulateCode(CODE_P2P).toString());
  return {
    denyDialMultiaddr: (address) => {
      const text = address.toString();
      return !transports.some((transport) => text === transport || text.startsWith(`${transport}/`));
    },
  };
}
