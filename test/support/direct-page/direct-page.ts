/**
 * The phone for the direct-path test: real headless Chromium running the
 * app's libp2p node and the SDK's direct path (./page-main.ts), served by a
 * vite dev server (the test pages' `bench` mode) that proxies `/api` (HTTP
 * and the events WebSocket) to the relay, so the page talks to the relay on
 * its own origin as the app does. The pre-bundle gets a cache directory of
 * its own, named after relay/patches (see ../webrtc-page/webrtc-pair.ts).
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.ts';
import { serverOrigin, startTestPageServer } from '../page-server.ts';
import type { DirectRunReport, DirectRunRequest } from './direct-report.ts';

const PAGE_PATH = '/test/support/direct-page/index.html';

export interface DirectPhone {
  readonly account: string;
  run(request: DirectRunRequest): Promise<DirectRunReport>;
  /** Closes the page's connections to `peer`. */
  hangUp(peer: string): Promise<void>;
  /** Page errors and console errors seen so far. */
  pageErrors(): readonly string[];
  close(): Promise<void>;
}

export async function openDirectPhone(init: {
  readonly relayUrl: string;
  readonly relayMultiaddr: string;
  readonly network: string;
  /** The phone account's Ed25519 secret key, hex (onboarded by the test). */
  readonly secretKeyHex: string;
}): Promise<DirectPhone> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    const server = await startTestPageServer({
      pagePath: PAGE_PATH,
      cacheName: 'direct-page',
      proxy: { '/api': { target: init.relayUrl, ws: true, changeOrigin: true } },
    });
    closers.push(() => server.close());
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      headless: true,
    });
    closers.push(() => browser.close());
    const errors: string[] = [];
    const page: Page = await browser.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    });
    await page.goto(`${serverOrigin(server)}${PAGE_PATH}`);
    await page.waitForFunction(() => window.acnDirect !== undefined, undefined, { timeout: 90_000 });
    const started = await page.evaluate(async ([addr, key, net]) => window.acnDirect?.start(addr, key, net), [
      init.relayMultiaddr,
      init.secretKeyHex,
      init.network,
    ] as const);
    if (started === undefined) throw new Error('the test page did not load');
    closers.push(() => page.evaluate(async () => window.acnDirect?.stop()));
    return {
      account: started.account,
      run: async (request) => {
        const report = await page.evaluate(async (r) => window.acnDirect?.run(r), request);
        if (report === undefined) throw new Error('the test page went away');
        return report;
      },
      hangUp: async (peer) => {
        await page.evaluate(async (id) => window.acnDirect?.hangUp(id), peer);
      },
      pageErrors: () => errors,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
