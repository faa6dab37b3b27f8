/** What the direct-path test page reports to Node (plain JSON across `page.evaluate`). */

export interface DirectRunRequest {
  readonly model: string;
  /** The input, base64url. */
  readonly input: string;
  readonly maxPrice: number;
  readonly dialTimeoutMs?: number;
}

/** One libp2p connection of the page's node, as the page sees it. */
export interface PageConnection {
  readonly remotePeer: string;
  readonly remoteAddr: string;
  /** libp2p's limits (relayed connections have them; direct WebRTC has none). */
  readonly limited: boolean;
}

export interface DirectRunReport {
  readonly taskId: string;
  readonly via: 'webrtc' | 'relay';
  readonly state: string;
  readonly worker: string | undefined;
  readonly price: number;
  /** SHA-256 of the output the page got. */
  readonly outputHash: string;
  /** The receipt, base64url. */
  readonly receipt: string;
  readonly remoteAddr: string | undefined;
  readonly fallbackReason: string | undefined;
  /** The page node's connections to the task's worker after the run. */
  readonly workerConnections: readonly PageConnection[];
}

/** The functions the page puts on `window.acnDirect`. */
export interface DirectPageApi {
  /** Makes the SDK client (relay = the page's origin, proxied) and the direct-task runner. */
  start(relayMultiaddr: string, secretKeyHex: string, network: string): Promise<{ account: string }>;
  run(request: DirectRunRequest): Promise<DirectRunReport>;
  /** Closes the page node's connections to `peer` (the next dial to it starts from nothing). */
  hangUp(peer: string): Promise<void>;
  stop(): Promise<void>;
}

declare global {
  interface Window {
    acnDirect?: DirectPageApi;
  }
}
