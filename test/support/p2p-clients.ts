/**
 * Stock js-libp2p clients for relay tests and benchmarks, built straight from
 * the libp2p packages (not from the app's client code), so the relay is
 * checked against libp2p as anyone else would run it.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify, type Identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';

export interface StockClientOptions {
  /** Listen on `/p2p-circuit`, i.e. take a reservation on any relay it connects to. */
  readonly reserve?: boolean;
  /**
   * Turn off the client's own liveness traffic (connection monitor pings every
   * 10 s, yamux keepalive every 30 s), as the app's clients do. Default false.
   */
  readonly quiet?: boolean;
}

export type StockClient = Libp2p<{ identify: Identify }>;

export function createStockClient(options: StockClientOptions = {}): Promise<StockClient> {
  return createLibp2p({
    addresses: { listen: options.reserve === true ? ['/p2p-circuit'] : [] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux(options.quiet === true ? { enableKeepAlive: false } : {})],
    ...(options.quiet === true ? { connectionMonitor: { enabled: false } } : {}),
    services: { identify: identify() },
  });
}

/** Resolves once `predicate` holds, polling every 20 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
