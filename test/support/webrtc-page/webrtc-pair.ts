/**
 * Two browser libp2p nodes in real headless Chromium, joined through the real
 * relay process: page B reserves a slot and listens on `/p2p-circuit/webrtc`,
 * page A dials it. Shared by test/e2e/webrtc-dials.test.ts and the WebRTC
 * benchmark (test/bench/webrtc.ts).
 *
 * The pages are served by a vite dev server (the benchmark pages' `bench`
 * mode) with a cache directory of their own, so the libp2p pre-bundle neither
 * races nor invalidates the one other tests use. The directory is named after
 * the patches in relay/patches: vite keys its pre-bundle on the lockfile, not
 * on node_modules' contents, so a new patch must mean a new bundle.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.ts';
import { serverOrigin, startTestPageServer } from '../page-server.ts';
import { startRelayProcess, type RelayProcess } from '../relay-process.ts';
import type { DialLoopOptions, DialLoopReport, DialResult, PageNodeInfo } from './dial-report.ts';

const PAGE_PATH = '/test/support/webrtc-page/index.html';

export interface WebrtcPair {
  readonly relay: RelayProcess;
  /** The relay address both pages connect to. */
  readonly relayMultiaddr: string;
  /** Page A's node. */
  readonly dialer: PageNodeInfo;
  /** Page B's node, with its WebRTC address. */
  readonly listener: PageNodeInfo;
  /** Makes `options.dials` dials from A to B's WebRTC address, one after the other. */
  dialLoop(options: DialLoopOptions): Promise<DialLoopReport>;
  /** Page errors and console errors seen so far (for failure messages). */
  pageErrors(): readonly string[];
  /** Stops the nodes, the browser, the dev server and the relay. */
  close(): Promise<void>;
}

/** Starts the relay, the dev server and Chromium, and brings both nodes up. */
export async function openWebrtcPair(): Promise<WebrtcPair> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    const relay = await startRelayProcess();
    closers.push(async () => {
      await relay.stop();
      await relay.cleanup();
    });
    const relayMultiaddr = relay.libp2pAddrs.find((a) => a.startsWith('/ip4/127.0.0.1/') && a.includes('/ws/p2p/'));
    if (relayMultiaddr === undefined) throw new Error(`no loopback /ws address in ${relay.libp2pAddrs.join(', ')}`);

    const server = await startTestPageServer({ pagePath: PAGE_PATH, cacheName: 'webrtc-page' });
    closers.push(() => server.close());
    const origin = serverOrigin(server);

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      headless: true,
    });
    closers.push(() => browser.close());
    const errors: string[] = [];
    const open = async (name: string): Promise<Page> => {
      const page = await browser.newPage();
      page.on('pageerror', (error) => errors.push(`${name}: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`${name} console: ${message.text()}`);
      });
      await page.goto(`${origin}${PAGE_PATH}`);
      await page.waitForFunction(() => window.acnWebrtc !== undefined, undefined, { timeout: 60_000 });
      return page;
    };
    const pageB = await open('B');
    const pageA = await open('A');
    const listener = await pageB.evaluate(async (addr) => window.acnWebrtc?.start(addr, true), relayMultiaddr);
    const dialer = await pageA.evaluate(async (addr) => window.acnWebrtc?.start(addr, false), relayMultiaddr);
    if (listener === undefined || dialer === undefined) throw new Error('test page did not load');
    const target = listener.webrtcAddrs[0];
    if (target === undefined) throw new Error('listener has no WebRTC address');
    closers.push(() => pageA.evaluate(async () => window.acnWebrtc?.stop()));
    closers.push(() => pageB.evaluate(async () => window.acnWebrtc?.stop()));

    return {
      relay,
      relayMultiaddr,
      dialer,
      listener,
      dialLoop: async (options) => {
        const report = await pageA.evaluate(async ([to, opts]) => window.acnWebrtc?.dialLoop(to, opts), [
          target,
          options,
        ] as const);
        if (report === undefined) throw new Error('test page went away');
        return report;
      },
      pageErrors: () => errors,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface DialSummary {
  readonly attempted: number;
  readonly succeeded: number;
  /** Successful dials whose connection was direct WebRTC (final transport `/webrtc`, no limits). */
  readonly direct: number;
  /** Distinct connections among the successful dials (equal to `succeeded` when no dial reused a connection). */
  readonly distinctConnections: number;
  readonly coldP50Ms: number;
  readonly coldP95Ms: number;
  readonly warmP50Ms: number;
  /** The distinct failure messages. */
  readonly errors: readonly string[];
}

/** Success count, directness and latency percentiles of a dial loop. */
export function summarizeDials(report: DialLoopReport): DialSummary {
  const ok = report.results.filter((r) => r.ok);
  const cold = ok.map((r) => r.coldMs);
  const warm = ok.flatMap((r) => r.rttMs);
  return {
    attempted: report.results.length,
    succeeded: ok.length,
    direct: ok.filter(isDirect).length,
    distinctConnections: new Set(ok.map((r) => r.connectionId)).size,
    coldP50Ms: percentile(cold, 0.5),
    coldP95Ms: percentile(cold, 0.95),
    warmP50Ms: percentile(warm, 0.5),
    errors: [...new Set(report.results.flatMap((r) => (r.error === undefined ? [] : [r.error])))],
  };
}

/** Direct: the last transport before `/p2p/<id>` is `/webrtc` and libp2p put no relay limits on it. */
export function isDirect(result: DialResult): boolean {
  return result.limited === false && /\/webrtc\/p2p\/[^/]+$/.test(result.remoteAddr ?? '');
}

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}
