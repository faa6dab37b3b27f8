/** A node's WebRTC addresses through its relay: what a dialer needs, and what a worker advertises. */
import { CODE_P2P_CIRCUIT, CODE_WEBRTC, type Multiaddr } from '@multiformats/multiaddr';

/** The node's `…/p2p-circuit/webrtc/p2p/<id>` addresses; none until its relay reservation is made. */
export function webrtcAddresses(node: { getMultiaddrs(): Multiaddr[] }): Multiaddr[] {
  return node.getMultiaddrs().filter((address) => {
    const codes = address.getComponents().map((component) => component.code);
    return codes.includes(CODE_P2P_CIRCUIT) && codes.includes(CODE_WEBRTC);
  });
}
