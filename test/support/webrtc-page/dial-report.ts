/** What the WebRTC test page reports to Node (plain JSON across `page.evaluate`). */

/** The tiny echo protocol the listening page answers on. */
export const ECHO_PROTOCOL = '/acn/test/echo/1.0.0';

export interface DialLoopOptions {
  /** Dials in a row, each a fresh connection closed before the next. */
  readonly dials: number;
  /** Per-dial limit, dial to the end of its echoes, in ms. */
  readonly timeoutMs: number;
  /** Warm round trips on each connection after the first echoed byte. */
  readonly echoes: number;
  /** Stop starting new dials after this many ms (the rest count as not attempted). */
  readonly budgetMs: number;
}

export interface DialResult {
  readonly ok: boolean;
  /** Dial start to the first echoed byte, in ms (also set for a failed dial: time until it failed). */
  readonly coldMs: number;
  /** libp2p's id of the connection (a fresh dial gets a new one). */
  readonly connectionId?: string;
  /** The dialer's view of the remote address. */
  readonly remoteAddr?: string;
  /** libp2p's limits on the connection (relayed connections have them; direct WebRTC has none). */
  readonly limited?: boolean;
  /** Warm echo round trips on this connection, in ms. */
  readonly rttMs: readonly number[];
  /** `name: message` of the failure. */
  readonly error?: string;
}

export interface DialLoopReport {
  readonly results: readonly DialResult[];
  /** Dials not started because the budget ran out. */
  readonly notAttempted: number;
}

export interface PageNodeInfo {
  readonly peerId: string;
  /** The node's WebRTC addresses (listening page only). */
  readonly webrtcAddrs: readonly string[];
}

/** The functions the page puts on `window.acnWebrtc`. */
export interface WebrtcPageApi {
  start(relayMultiaddr: string, listen: boolean): Promise<PageNodeInfo>;
  dialLoop(target: string, options: DialLoopOptions): Promise<DialLoopReport>;
  stop(): Promise<void>;
}

declare global {
  interface Window {
    acnWebrtc?: WebrtcPageApi;
  }
}
