/**
 * The browser half of the direct-path test: the phone's own code
 * (web/p2p/direct-task.ts over the SDK) in real Chromium, with a dial-only
 * libp2p node from web/p2p/create-browser-node.ts. The relay's HTTP API is
 * reached through the test server's proxy (same origin, as for the app).
 */
import { fromBase64Url, hexToBytes, sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId, ModelId } from '#core/identity/ids.ts';
import { createNobleSigner } from '#core/identity/signer.ts';
import { AIComputeClient } from '#client/sdk/index.ts';
import { createDirectTaskRunner, type DirectTaskRunner } from '#web/p2p/direct-task.ts';
import type { DirectRunReport, DirectRunRequest } from './direct-report.ts';

let runner: DirectTaskRunner | undefined;

function start(relayMultiaddr: string, secretKeyHex: string, network: string): Promise<{ account: string }> {
  const signer = createNobleSigner(hexToBytes(secretKeyHex));
  const client = new AIComputeClient({
    relayUrl: location.origin,
    signer,
    pinnedRelay: network as AccountId,
  });
  runner = createDirectTaskRunner({ client, relayMultiaddr });
  return Promise.resolve({ account: signer.accountId });
}

async function run(request: DirectRunRequest): Promise<DirectRunReport> {
  if (runner === undefined) throw new Error('start() first');
  const result = await runner.run({
    model: request.model as ModelId,
    input: fromBase64Url(request.input),
    maxPrice: request.maxPrice,
    ...(request.dialTimeoutMs === undefined ? {} : { dialTimeoutMs: request.dialTimeoutMs }),
    pollMs: 100,
  });
  const worker = result.task.worker;
  const connections = worker === undefined ? [] : (runner.node()?.getConnections() ?? []);
  return {
    taskId: result.task.id,
    via: result.via,
    state: result.task.state,
    worker,
    price: result.task.price,
    outputHash: sha256Hex(result.output),
    receipt: toBase64Url(result.receipt),
    remoteAddr: result.remoteAddr,
    fallbackReason: result.fallbackReason,
    workerConnections: connections
      .filter((c) => c.remotePeer.toString() === worker)
      .map((c) => ({
        remotePeer: c.remotePeer.toString(),
        remoteAddr: c.remoteAddr.toString(),
        limited: c.limits !== undefined,
      })),
  };
}

async function hangUp(peer: string): Promise<void> {
  const connections = runner?.node()?.getConnections() ?? [];
  await Promise.all(connections.filter((c) => c.remotePeer.toString() === peer).map((c) => c.close()));
}

window.acnDirect = {
  start,
  run,
  hangUp,
  stop: async () => {
    await runner?.stop();
    runner = undefined;
  },
};
