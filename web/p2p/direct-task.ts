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
import type { AIComputeClient, DirectTaskParams, DirectTaskResult } from '../../shared/sdk/index.ts';
import { createBrowserNode, type BrowserNode, type BrowserNodeInit } from './create-browser-node.ts';

export interface DirectTaskRunnerInit {
  readonly client: AIComputeClient;
  /** The relay's libp2p address ending in `/p2p/<relay>` (`GET /api/network/bootstrap`). */
  readonly relayMultiaddr: string;
  /** STUN/TURN servers. Default none. */
  readonly iceServers?: BrowserNodeInit['iceServers'];
  /** How long to wait for the browser node to reach the relay. Default 10 s. */
  readonly startTimeoutMs?: number;
}

export interface DirectTaskRunner {
  /** Runs a task on the direct path, falling back to the relay; see `AIComputeClient.runDirectTask`. */
  run(params: Omit<DirectTaskParams, 'node'>): Promise<DirectTaskResult>;
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
        const result = await init.client.waitForResult(task.id, { signal: params.signal });
        const reason = error instanceof Error ? error.message : String(error);
        return { ...result, via: 'relay', fallbackReason: `no libp2p connection to the relay: ${reason}` };
      }
      return init.client.runDirectTask({ ...params, node });
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
