/**
 * A shipped model run on the phone (onnxruntime-web in a Web Worker, the
 * model fetched from the relay and checked against its hash) gives the same
 * answer as the relay's own run of the same input, by the catalogue's
 * measure for the model (top-1 label for language identification).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBuiltForTests } from '../support/build-app.ts';
import { launchAppBrowser, type AppBrowser } from '../support/app-browser.ts';
import { chooseModel, navigateTo, openOnboardedApp, runTextOnNetwork } from '../support/app-session.ts';
import { startRelayProcess, type RelayProcess } from '../support/relay-process.ts';

let relay: RelayProcess;
let browser: AppBrowser;
let page: Page;

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
    const sentences = [
      'Der schnelle braune Fuchs springt über den faulen Hund.',
      'La vida es sueño, y los sueños, sueños son.',
      'The weather was lovely and we walked along the river all afternoon.',
    ];
    const labels: string[] = [];
    for (const text of sentences) {
      await page.locator('[data-testid=run-text]').fill(text);
      await page.locator('[data-testid=run-price]:not([data-value=""])').waitFor();
      await page.locator('[data-testid=run-local]').click();
      const onPhone = await shownLabel(page, 'phone');
      expect(await page.locator('[data-testid=run-backend]').textContent()).toMatch(/WASM|WebGPU/);

      await runTextOnNetwork(page, text, 'done', 60_000);
      const onRelay = await shownLabel(page, 'network');
      expect(onPhone, text).not.toBe('');
      expect(onPhone, text).toBe(onRelay);
      labels.push(onPhone);
    }
    // Three languages, three labels: the comparison is not between two constant answers.
    expect(new Set(labels).size).toBe(3);
  }, 240_000);
});
