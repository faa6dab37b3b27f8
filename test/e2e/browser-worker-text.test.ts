/**
 * Text generation on the browser worker: the app's Contribute screen makes a
 * headless Chromium tab a worker of the real relay, and a generation
 * submitted from Node runs in the tab (onnxruntime-web in a Web Worker). Its
 * pieces stream from the Web Worker to the tab's task stream and on to the
 * requester over the relay's Server-Sent Events; a Stop sent mid-stream
 * reaches the Web Worker, which ends the generation there, and the tab is
 * paid for the pieces it made (exact balances: no canaries or re-checks).
 */
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { navigateTo, openOnboardedApp } from '#test/app-session.ts';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { onboardAccount, relayApi, type RelayApi } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { textStreams } from '#test/text-stream.ts';

const FEE_BPS = 1000;
/**
 * The page counts this machine as 16 cores: the balanced preset's 10% is then
 * a whole thread, so the tab never rests between tasks (on 2 cores it would
 * rest four times as long as it worked, and refuse the next task as busy).
 */
const CORES = 16;

let relay: RelayProcess;
let api: RelayApi;
let network: AccountId;
let model: ModelEntry;
let browser: AppBrowser;
let page: Page;
let tab: AccountId;
const requester = generateNobleSigner();
const { balanceOf, streamStopped, streamWhole } = textStreams({
  url: () => relay.url,
  api: (path, body) => api(path, body),
  network: () => network,
  model: () => model,
  requester,
});

const status = (): Locator => page.locator('[data-testid=contribute-status]');

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess([
    '--pow-difficulty',
    '8',
    '--min-worker-stake',
    '100',
    '--fee-bps',
    String(FEE_BPS),
    '--block-interval',
    '200',
    // Known-answer canaries and re-checks would move the tab's balance by tasks this test did not send.
    '--canary-rate',
    '0',
    '--recheck-rate',
    '0',
  ]);
  api = relayApi(() => relay.url);
  network = relay.relayAccount as AccountId;
  await onboardAccount(api, network, requester, 8);
  const catalogue = (await api('/api/models')).body as unknown as Catalogue;
  const entry = catalogue.models.find((m) => m.kind === 'text-generation');
  if (entry === undefined) throw new Error('the relay has no language model: run npm run models');
  model = entry;

  browser = await launchAppBrowser();
  await browser.context.addInitScript((cores) => {
    Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => cores });
  }, CORES);
  page = await openOnboardedApp(browser.context, relay);
  await navigateTo(page, '/contribute');
  await page.locator('[data-testid=resource-preset-balanced]').check();
  await page.locator('[data-testid=contribute-switch]').check();
  await page.locator('[data-testid=contribute-status][data-state=online][data-advert-ok=true]').waitFor({
    timeout: 90_000,
  });
  tab = ((await status().getAttribute('data-account')) ?? '') as AccountId;
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail before the browser starts
  await browser?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (relay !== undefined) {
    await relay.stop();
    await relay.cleanup();
  }
});

describe('text generation on the browser worker', () => {
  it('streams the pieces from its Web Worker to the requester, and is paid its price less the fee', async () => {
    const before = await balanceOf(tab);
    const { end, price } = await streamWhole('John 3:16', 48);
    expect(end.worker).toBe(tab);
    const fee = Math.floor((price * FEE_BPS) / 10_000);
    expect(await balanceOf(tab)).toBe(before + price - fee);
  }, 90_000);

  it('ends the generation in its Web Worker on a stop, and is paid for the pieces it made', async () => {
    const before = await balanceOf(tab);
    const { end, price } = await streamStopped();
    expect(end.worker).toBe(tab);
    const fee = Math.floor((price * FEE_BPS) / 10_000);
    expect(await balanceOf(tab)).toBe(before + price - fee);
  }, 90_000);
});
