/**
 * The browser worker: the app's Contribute screen, switched on, makes the tab
 * a worker of the real relay (libp2p from headless Chromium with the account
 * key as its identity, a stake, signed adverts). A task submitted from Node
 * for the language identifier runs in the tab (onnxruntime-web in a Web
 * Worker) and settles to the tab's account, minus the relay's fee; a new
 * preset changes threads and concurrency live, without a reload, and reaches
 * the relay as a new advert; a hidden tab pauses and takes no task.
 */
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { solvePow } from '#core/pow/pow.ts';
import { AIComputeClient, type TaskView } from '#client/sdk/index.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { navigateTo, openOnboardedApp } from '#test/app-session.ts';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const FEE_BPS = 500;
/** The page counts this machine as 16 cores, so presets map to different thread counts even on 2. */
const CORES = 16;

let relay: RelayProcess;
let browser: AppBrowser;
let page: Page;
let client: AIComputeClient;
let languageId: ModelEntry;
let pageAccount: AccountId;

const status = (): Locator => page.locator('[data-testid=contribute-status]');

async function attr(name: string): Promise<string> {
  return (await status().getAttribute(`data-${name}`)) ?? '';
}

async function relayBalance(account: string): Promise<number> {
  return (await client.balance(account as AccountId)).balance;
}

async function settled(id: TaskId): Promise<TaskView> {
  for (let i = 0; i < 600; i++) {
    const view = await client.getTask(id);
    if (view.state === 'settled') return view;
    if (view.state === 'refunded') throw new Error(`task refunded: ${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`task ${id} did not settle`);
}

async function runLanguageTask(text: string): Promise<TaskView> {
  const input = new TextEncoder().encode(text);
  const { task } = await client.submitTask({ model: languageId.id, input, maxPrice: 1000 });
  return settled(task.id);
}

/** Waits for an advert newer than `afterSeq` the relay accepted; returns its seq. */
async function acceptedAdvertAfter(afterSeq: number): Promise<number> {
  await page.waitForFunction(
    (after) => {
      const find = (root: Document | ShadowRoot): Element | null => {
        const hit = root.querySelector('[data-testid=contribute-status]');
        if (hit) return hit;
        for (const el of root.querySelectorAll('*')) {
          if (el.shadowRoot) {
            const inner = find(el.shadowRoot);
            if (inner) return inner;
          }
        }
        return null;
      };
      const el = find(document);
      return el?.getAttribute('data-advert-ok') === 'true' && Number(el.getAttribute('data-advert-seq')) > after;
    },
    afterSeq,
    { timeout: 20_000 },
  );
  return Number(await attr('advert-seq'));
}

/** Moves a share slider the way a user's drag ends: an input, then a change. */
async function setShare(key: 'cpu' | 'ram' | 'storage' | 'gpu', value: number): Promise<void> {
  await page.locator(`[data-testid=resource-slider-${key}]`).evaluate((element, v) => {
    const input = element as HTMLInputElement;
    input.value = String(v);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

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
    // Known-answer canaries and re-runs would move the tab's balance by tasks this test did not send.
    '--canary-rate',
    '0',
    '--recheck-rate',
    '0',
  ]);
  const network = relay.relayAccount as AccountId;
  const requester = generateNobleSigner();
  client = new AIComputeClient({ relayUrl: relay.url, signer: requester, pinnedRelay: network });
  const puzzle = await client.onboardPuzzle();
  await client.onboard(await solvePow({ network, publicKey: requester.publicKey, difficulty: puzzle.difficulty }));
  const entry = (await client.models()).models.find((m) => m.name === 'lande-t50');
  if (!entry) throw new Error('the relay has no lande-t50');
  languageId = entry;

  browser = await launchAppBrowser();
  await browser.context.addInitScript((cores) => {
    Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => cores });
  }, CORES);
  page = await openOnboardedApp(browser.context, relay);
  await navigateTo(page, '/contribute');
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

describe('browser worker mode', () => {
  it('stakes, connects with the account key and advertises the phone-class models', async () => {
    await page.locator('[data-testid=resource-preset-balanced]').check();
    await page.locator('[data-testid=contribute-switch]').check();
    await page.locator('[data-testid=contribute-status][data-state=online][data-advert-ok=true]').waitFor({
      timeout: 60_000,
    });
    pageAccount = (await attr('account')) as AccountId;
    const wallet = await client.balance(pageAccount);
    expect(wallet.stake).toBeGreaterThanOrEqual(100);
    expect(Number(await attr('advert-models'))).toBeGreaterThan(0);
    // The tab's libp2p identity is its account: the relay lists it among its peers.
    const nodes = (await (await fetch(`${relay.url}/api/network/nodes`)).json()) as { peers: { id: string }[] };
    expect(nodes.peers.map((p) => p.id)).toContain(pageAccount);
    // 10% of 16 cores: one thread, one task at a time.
    expect(await attr('threads')).toBe('1');
    expect(await attr('concurrency')).toBe('1');
  }, 90_000);

  it('runs a language-identification task from Node and is paid its price minus the relay fee', async () => {
    const before = await relayBalance(pageAccount);
    const view = await runLanguageTask('Dit is een korte Nederlandse zin over het weer van vandaag.');
    expect(view.worker).toBe(pageAccount);
    const fee = Math.floor((view.price * FEE_BPS) / 10_000);
    expect(await relayBalance(pageAccount)).toBe(before + view.price - fee);
    await page
      .locator(`[data-testid=contribute-status][data-done="1"][data-earned="${view.price - fee}"]`)
      .waitFor({ timeout: 20_000 });
    expect(await attr('last-threads')).toBe('1');
  }, 90_000);

  it('applies a new preset live: threads and concurrency change, the relay gets the new advert', async () => {
    // A marker on the window: still there at the end means the page never reloaded.
    await page.evaluate(() => {
      (window as unknown as { acnNoReload?: boolean }).acnNoReload = true;
    });
    const workersBefore = Number(await attr('inference-workers'));
    let seq = Number(await attr('advert-seq'));
    await page.locator('[data-testid=resource-preset-generous]').check();
    seq = await acceptedAdvertAfter(seq);
    // 20% of 16 cores: three threads, still one task at a time (one per two threads).
    expect(await attr('threads')).toBe('3');
    expect(await attr('concurrency')).toBe('1');

    // A worker with three threads warms up (tasks meanwhile run on the old one); then it takes the tasks.
    await page.locator('[data-testid=contribute-status][data-inference-ready=true]').waitFor({ timeout: 30_000 });
    const view = await runLanguageTask('The weather is lovely today and we are going for a long walk.');
    expect(view.worker).toBe(pageAccount);
    await page.locator('[data-testid=contribute-status][data-done="2"]').waitFor({ timeout: 20_000 });
    // onnxruntime ran with the new thread count: a new inference Web Worker, no page reload.
    expect(await attr('last-threads')).toBe('3');
    expect(Number(await attr('inference-workers'))).toBeGreaterThan(workersBefore);

    await setShare('cpu', 25);
    await acceptedAdvertAfter(seq);
    expect(await attr('threads')).toBe('4');
    expect(await attr('concurrency')).toBe('2');
    await page.locator('[data-testid=contribute-status][data-inference-ready=true]').waitFor({ timeout: 30_000 });
    // Two slots now: two tasks at once both run in the tab, with four threads each.
    const both = await Promise.all([
      runLanguageTask('Questa è una breve frase italiana sul tempo di oggi.'),
      runLanguageTask('Esta es una frase corta en español sobre el tiempo de hoy.'),
    ]);
    expect(both.map((task) => task.worker)).toEqual([pageAccount, pageAccount]);
    await page.locator('[data-testid=contribute-status][data-done="4"]').waitFor({ timeout: 20_000 });
    expect(await attr('last-threads')).toBe('4');
    const nodes = (await (await fetch(`${relay.url}/api/network/nodes`)).json()) as { peers: { id: string }[] };
    expect(nodes.peers.map((p) => p.id)).toContain(pageAccount);
    expect(await page.evaluate(() => (window as unknown as { acnNoReload?: boolean }).acnNoReload)).toBe(true);
  }, 90_000);

  it('keeps contributing while another screen is shown', async () => {
    const done = Number(await attr('done'));
    await navigateTo(page, '/wallet');
    const view = await runLanguageTask('Dette er en kort norsk setning om været i dag.');
    expect(view.worker).toBe(pageAccount);
    await navigateTo(page, '/contribute');
    await page.locator(`[data-testid=contribute-status][data-state=online][data-done="${done + 1}"]`).waitFor();
    expect(await page.locator('[data-testid=contribute-switch]').isChecked()).toBe(true);
  }, 60_000);

  it('pauses while the tab is hidden unless told to keep running', async () => {
    let seq = Number(await attr('advert-seq'));
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.locator('[data-testid=contribute-status][data-state=paused][data-paused=hidden]').waitFor();
    seq = await acceptedAdvertAfter(seq);
    expect(await attr('advert-models')).toBe('0');
    const done = await attr('done');
    const view = await runLanguageTask('Ceci est une phrase en français pour le test.');
    expect(view.worker).not.toBe(pageAccount);
    expect(await attr('done')).toBe(done);

    await page.locator('[data-testid=contribute-keep-running]').check();
    await page.locator('[data-testid=contribute-status][data-state=online]').waitFor();
    await acceptedAdvertAfter(seq);
    expect(Number(await attr('advert-models'))).toBeGreaterThan(0);
    const resumed = await runLanguageTask('Das ist ein kurzer deutscher Satz über das Wetter.');
    expect(resumed.worker).toBe(pageAccount);
  }, 90_000);
});

describe('browser worker mode on an account that cannot stake', () => {
  let poorRelay: RelayProcess;
  let poorBrowser: AppBrowser;

  beforeAll(async () => {
    // A grant below the stake the tab holds (the protocol's default minimum, 10,000).
    poorRelay = await startRelayProcess(['--pow-difficulty', '8', '--grant', '50', '--min-worker-stake', '100']);
    poorBrowser = await launchAppBrowser();
  }, 120_000);

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail early
    await poorBrowser?.close();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
    if (poorRelay !== undefined) {
      await poorRelay.stop();
      await poorRelay.cleanup();
    }
  });

  it('says how many tokens are missing and stays off', async () => {
    const poorPage = await openOnboardedApp(poorBrowser.context, poorRelay);
    await navigateTo(poorPage, '/contribute');
    await poorPage.locator('[data-testid=contribute-switch]').check();
    const error = poorPage.locator('[data-testid=contribute-error][data-code=insufficient-balance]');
    await error.waitFor({ timeout: 30_000 });
    expect(await error.textContent()).toContain('9950 more tokens');
    expect(await poorPage.locator('[data-testid=contribute-switch]').isChecked()).toBe(false);
    expect(await poorPage.locator('[data-testid=contribute-status]').getAttribute('data-state')).toBe('off');
  }, 90_000);
});
