/**
 * The phone's interactive path: run a task on a desktop worker the phone
 * dials itself over WebRTC (through the relay's circuit for signalling only),
 * with the relay escrowing and settling. The browser libp2p node is made
 * once, on first use, with web/p2p/create-browser-node.ts (dial only: the
 * phone never listens), and kept for the next tasks.
 *
 * When no worker can be dialled, or WebRTC does not connect within the dial
 * timeout, the SDK falls back to the brokered path: the same task, escrowed
 * once, only later.
 */
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import {
  RelayApiError,
  type AIComputeClient,
  type DirectOffer,
  type DirectTaskParams,
  type DirectTaskResult,
  type SignedTask,
} from '#client/sdk/index.ts';
import { createBrowserNode, type BrowserNode, type BrowserNodeInit } from './create-browser-node.ts';

export interface DirectTaskRunnerInit {
  readonly client: AIComputeClient;
  /** The relay's libp2p address ending in `/p2p/<relay>` (`GET /api/network/bootstrap`, or {@link relayMultiaddrOf}). */
  readonly relayMultiaddr: string | Multiaddr;
  /** STUN/TURN servers. Default none. */
  readonly iceServers?: BrowserNodeInit['iceServers'];
  /** How long to wait for the browser node to reach the relay. Default 10 s. */
  readonly startTimeoutMs?: number;
}

export interface DirectTaskRunner {
  /** Runs a task on the direct path, falling back to the relay; see `AIComputeClient.runDirectTask`. */
  run(params: Omit<DirectTaskParams, 'node'>): Promise<DirectTaskResult>;
  /**
   * The second half of `run` for a task already submitted with
   * `route: 'direct'` whose answer carried `offer` (see
   * `AIComputeClient.completeDirectTask`). When the browser node cannot reach
   * the relay, asks for the brokered path at once instead of waiting for the
   * assignment's deadline.
   */
  complete(
    signed: SignedTask,
    offer: DirectOffer,
    params: Omit<DirectTaskParams, 'node' | 'model' | 'input' | 'maxPrice'>,
  ): Promise<DirectTaskResult>;
  /** The browser node, once made (tests read its connections). */
  node(): BrowserNode | undefined;
  stop(): Promise<void>;
}

export function createDirectTaskRunner(init: DirectTaskRunnerInit): DirectTaskRunner {
  let starting: Promise<BrowserNode> | undefined;
  let made: BrowserNode | undefined;

  function ensureNode(): Promise<BrowserNode> {
    starting ??= createBrowserNode({
      relayMultiaddr: init.relayMultiaddr,
      ...(init.iceServers === undefined ? {} : { iceServers: init.iceServers }),
      signal: AbortSignal.timeout(init.startTimeoutMs ?? 10_000),
    }).then(
      (node) => {
        made = node;
        return node;
      },
      (error: unknown) => {
        // Another try next time: the relay may be back.
        starting = undefined;
        throw error;
      },
    );
    return starting;
  }

  return {
    async run(params) {
      let node: BrowserNode;
      try {
        node = await ensureNode();
      } catch (error) {
        // No libp2p to the relay: the brokered path needs only HTTP.
        const { task } = await init.client.submitTask(params);
        const result = await init.client.waitForResult(task.id, {
          signal: params.signal,
          onText: params.onText,
          stop: params.stop,
        });
        const reason = error instanceof Error ? error.message : String(error);
        return { ...result, via: 'relay', fallbackReason: `no libp2p connection to the relay: ${reason}` };
      }
      return init.client.runDirectTask({ ...params, node });
    },
    async complete(signed, offer, params) {
      let node: BrowserNode;
      try {
        node = await ensureNode();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        try {
          await init.client.requestFallback(signed.taskId, { signal: params.signal });
        } catch (refused) {
          // 409: already decided (the deadline passed): the brokered result is on its way anyway.
          if (!(refused instanceof RelayApiError && refused.status === 409)) throw refused;
        }
        // A text generation still streams, and can be stopped, on the brokered path.
        const result = await init.client.waitForResult(signed.taskId, {
          signal: params.signal,
          onText: params.onText,
          stop: params.stop,
        });
        return { ...result, via: 'relay', fallbackReason: `no libp2p connection to the relay: ${reason}` };
      }
      return init.client.completeDirectTask(signed, offer, { ...params, node });
    },
    node: () => made,
    async stop() {
      const node = made;
      made = undefined;
      starting = undefined;
      await node?.stop();
    },
  };
}

/** The relay's WebSocket libp2p address on the app's own origin (libp2p listens on the HTTP(S) port too). */
export function relayMultiaddrOf(relayUrl: string, peerId: string): Multiaddr {
  const url = new URL(relayUrl, globalThis.location.href);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const protocol = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? 'ip4' : host.includes(':') ? 'ip6' : 'dns';
  const secure = url.protocol === 'https:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const address = multiaddr(`/${protocol}/${host}/tcp/${port}/${secure ? 'tls/ws' : 'ws'}/p2p/${peerId}`);
  if (address.getComponents().at(-1)?.code !== CODE_P2P) throw new TypeError('internal: relay address without /p2p');
  return address;
}
