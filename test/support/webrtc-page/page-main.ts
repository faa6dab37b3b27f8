/**
 * The browser half of the WebRTC dial test and benchmark: a libp2p node from
 * web/p2p (the app's own factory) that either listens (answers an echo
 * protocol) or dials a listener many times in a row and times each dial.
 */
import { byteStream, echo } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { createBrowserNode, webrtcAddresses, type BrowserNode } from '#web/p2p/create-browser-node.ts';
import { ECHO_PROTOCOL, type DialLoopOptions, type DialLoopReport, type DialResult } from './dial-report.ts';

const WARM_PAYLOAD = new Uint8Array(32).fill(7);
let node: BrowserNode | undefined;

async function start(relayMultiaddr: string, listen: boolean) {
  node = await createBrowserNode({ relayMultiaddr, listen, signal: AbortSignal.timeout(20_000) });
  if (listen) {
    await node.handle(ECHO_PROTOCOL, (stream) => echo(stream));
  }
  return { peerId: node.peerId.toString(), webrtcAddrs: webrtcAddresses(node).map((a) => a.toString()) };
}

async function dialOnce(dialer: BrowserNode, target: string, options: DialLoopOptions): Promise<DialResult> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const started = performance.now();
  const rttMs: number[] = [];
  try {
    const connection = await dialer.dial(multiaddr(target), { signal });
    try {
      const stream = byteStream(await connection.newStream(ECHO_PROTOCOL, { signal }));
      await stream.write(Uint8Array.of(1), { signal });
      await stream.read({ bytes: 1, signal });
      const coldMs = performance.now() - started;
      for (let i = 0; i < options.echoes; i++) {
        const sent = performance.now();
        await stream.write(WARM_PAYLOAD, { signal });
        await stream.read({ bytes: WARM_PAYLOAD.length, signal });
        rttMs.push(performance.now() - sent);
      }
      return {
        ok: true,
        coldMs,
        connectionId: connection.id,
        remoteAddr: connection.remoteAddr.toString(),
        limited: connection.limits !== undefined,
        rttMs,
      };
    } finally {
      await connection.close().catch(() => undefined);
    }
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { ok: false, coldMs: performance.now() - started, rttMs, error: `${e.name}: ${e.message}` };
  }
}

async function dialLoop(target: string, options: DialLoopOptions): Promise<DialLoopReport> {
  if (node === undefined) throw new Error('start() first');
  const deadline = performance.now() + options.budgetMs;
  const results: DialResult[] = [];
  for (let i = 0; i < options.dials; i++) {
    if (performance.now() > deadline) return { results, notAttempted: options.dials - i };
    results.push(await dialOnce(node, target, options));
  }
  return { results, notAttempted: 0 };
}

window.acnWebrtc = {
  start,
  dialLoop,
  stop: async () => {
    await node?.stop();
    node = undefined;
  },
};
