/**
 * A shipped model run on the phone (onnxruntime-web in a Web Worker, the
 * model fetched from the relay and checked against its hash) gives the same
 * answer as the relay's own run of the same input, by the catalogue's
 * measure for the model (top-1 label for language identification). Once run,
 * the model and onnxruntime (its wasm and that wasm's loader) come from the
 * device: the same run works with the relay stopped and no network.
 */
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { chooseModel, navigateTo, openOnboardedApp, runTextOnNetwork } from '#test/app-session.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let browser: AppBrowser;
let page: Page;

const SENTENCES = [
  'Der schnelle braune Fuchs springt über den faulen Hund.',
  'La vida es sueño, y los sueños, sueños son.',
  'The weather was lovely and we walked along the river all afternoon.',
];
/** The phone's labels for SENTENCES while online, for the offline runs. */
let labelsOnline: string[] = [];

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess(['--pow-difficulty', '8']);
  browser = await launchAppBrowser();
  page = await openOnboardedApp(browser.context, relay);
}, 300_000);

afterAll(async () => {
  await browser.close();
  await relay.stop();
  await relay.cleanup();
});

/** The top label a finished run shows ("French · 98%" gives "French"). */
async function shownLabel(page: Page, where: 'phone' | 'network'): Promise<string> {
  const label = page.locator(
    `[data-testid=run-result][data-state=done][data-where=${where}] [data-testid=output-label]`,
  );
  await label.waitFor({ timeout: 60_000 });
  return ((await label.textContent()) ?? '').split('·')[0]?.trim() ?? '';
}

describe('local inference in the app', () => {
  it('labels sentences on the phone as the relay does', async () => {
    await navigateTo(page, '/run');
    await chooseModel(page, 'lande-t50');
    const ortFiles = new Set<string>();
    const onRequest = (request: Request) => {
      const { pathname } = new URL(request.url());
      if (pathname.startsWith('/ort/')) ortFiles.add(pathname);
    };
    browser.context.on('request', onRequest);
    const labels: string[] = [];
    let backend = '';
    for (const text of SENTENCES) {
      await page.locator('[data-testid=run-text]').fill(text);
      await page.locator('[data-testid=run-price]:not([data-value=""])').waitFor();
      await page.locator('[data-testid=run-local]').click();
      const onPhone = await shownLabel(page, 'phone');
      backend = (await page.locator('[data-testid=run-backend]').textContent()) ?? '';
      expect(backend).toMatch(/WASM|WebGPU/);

      await runTextOnNetwork(page, text, 'done', 60_000);
      const onRelay = await shownLabel(page, 'network');
      expect(onPhone, text).not.toBe('');
      expect(onPhone, text).toBe(onRelay);
      labels.push(onPhone);
    }
    // Three languages, three labels: the comparison is not between two constant answers.
    expect(new Set(labels).size).toBe(3);
    labelsOnline = labels;

    // onnxruntime's WASM-only build (14 MB) unless WebGPU runs it (28 MB).
    browser.context.off('request', onRequest);
    const build = backend.includes('WebGPU') ? 'jsep.' : '';
    expect([...ortFiles].sort()).toEqual([
      `/ort/ort-wasm-simd-threaded.${build}mjs`,
      `/ort/ort-wasm-simd-threaded.${build}wasm`,
    ]);
  }, 240_000);

  it('runs on the phone offline, from what the first runs left on the device', async () => {
    expect(labelsOnline).toHaveLength(SENTENCES.length);
    expect(await relay.stop()).toBe(0);
    // Only the app's own caches count: the browser's HTTP cache may be evicted any time.
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.clearBrowserCache');
    await browser.context.setOffline(true);
    await page.reload();
    await navigateTo(page, '/run');
    await chooseModel(page, 'lande-t50');
    for (const [i, text] of SENTENCES.entries()) {
      await page.locator('[data-testid=run-text]').fill(text);
      await page.locator('[data-testid=run-local]').click();
      expect(await shownLabel(page, 'phone'), text).toBe(labelsOnline[i]);
    }
  }, 120_000);
});
