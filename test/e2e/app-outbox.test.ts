/**
 * The offline outbox end to end: tasks signed offline wait in IndexedDB and
 * reach the relay exactly once when the device is back online — delivered
 * by the service worker on Background Sync with no page open (Chromium), or
 * by the page itself where there is no Background Sync (Safari, Firefox) —
 * and each one's result is then verified on the phone.
 *
 * "Exactly once" is counted where it matters, on the relay (its request
 * metrics); Playwright's view of the same requests tells who sent them.
 */
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import {
  chooseModel,
  navigateTo,
  openOnboardedApp,
  relayTaskIds,
  relayTaskPosts,
  runTextOnNetwork,
  verifyFromTaskList,
  watchTaskPosts,
} from '#test/app-session.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const TEXTS = [
  'Bonjour à tous, il fait très beau aujourdhui dans la ville.',
  'Guten Morgen, heute scheint die Sonne über der ganzen Stadt.',
  'Buenos días a todos, hoy hace muy buen tiempo en la ciudad.',
];
const SYNC_TAG = 'acn-outbox';

let relay: RelayProcess | undefined;
let browser: AppBrowser | undefined;

beforeAll(async () => {
  await ensureAppBuiltForTests();
}, 300_000);

afterEach(async () => {
  await browser?.close();
  await relay?.stop();
  await relay?.cleanup();
  browser = undefined;
  relay = undefined;
});

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  await relay?.cleanup();
});

/** Goes offline on the Run screen and queues one lande-t50 task per text; returns the task ids. */
async function queueTasksOffline(page: Page, context: AppBrowser['context']): Promise<string[]> {
  await navigateTo(page, '/run');
  await chooseModel(page, 'lande-t50');
  await context.setOffline(true);
  await page.locator('[data-testid=connection-state][data-state=offline]').waitFor();
  const ids: string[] = [];
  for (const text of TEXTS) ids.push(await runTextOnNetwork(page, text, 'queued'));
  expect(new Set(ids).size).toBe(TEXTS.length);
  await navigateTo(page, '/tasks');
  await page.locator(`[data-testid=outbox-queued][data-count="${TEXTS.length}"]`).waitFor();
  return ids;
}

/** Opens every task from the list: each verifies, and its row then says so. */
async function expectVerified(page: Page, ids: readonly string[]): Promise<void> {
  // Every row first, so that none moves (outbox to relay) under a click meant for another.
  for (const id of ids) await page.locator(`[data-testid=task-row][data-task-id="${id}"][data-source=relay]`).waitFor();
  for (const id of ids) {
    await page.locator(`[data-testid=task-row][data-task-id="${id}"][data-source=relay]`).waitFor();
    expect(await verifyFromTaskList(page, id), id).toBe('true');
    await navigateTo(page, '/tasks');
    await page.locator(`[data-testid=task-row][data-task-id="${id}"][data-verified=verified]`).waitFor();
  }
}

async function accountOf(page: Page): Promise<string> {
  await navigateTo(page, '/wallet');
  return ((await page.locator('[data-testid=account-id]').textContent()) ?? '').trim();
}

describe('the offline outbox', () => {
  it('is delivered once by the service worker on Background Sync, with no page open', async () => {
    relay = await startRelayProcess(['--pow-difficulty', '8']);
    browser = await launchAppBrowser();
    const { context } = browser;
    const posts = watchTaskPosts(context, relay);
    const page = await openOnboardedApp(context, relay);
    const account = await accountOf(page);
    const ids = await queueTasksOffline(page, context);
    expect(await relayTaskPosts(relay)).toBe(0);
    await page.close();

    // Background Sync is fired through DevTools, from a page of another origin: no app page is open.
    const blank = await context.newPage();
    const cdp = await context.newCDPSession(blank);
    const registration = new Promise<string>((resolve) => {
      cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => {
        const found = event.registrations.find((r) => r.scopeURL === `${relay?.url ?? ''}/` && !r.isDeleted);
        if (found) resolve(found.registrationId);
      });
    });
    await cdp.send('ServiceWorker.enable');
    const registrationId = await registration;
    await context.setOffline(false);
    await cdp.send('ServiceWorker.dispatchSyncEvent', {
      origin: relay.url,
      registrationId,
      tag: SYNC_TAG,
      lastChance: false,
    });
    await posts.reached(TEXTS.length);
    expect(posts.fromServiceWorker).toBe(TEXTS.length);

    // Back in the app: nothing is sent again, and each result verifies.
    const again = await context.newPage();
    await again.goto(`${relay.url}/tasks`);
    await again.locator('[data-testid=outbox-queued][data-count="0"]').waitFor();
    await expectVerified(again, ids);
    expect(await relayTaskPosts(relay)).toBe(TEXTS.length);
    expect(posts.fromPage).toBe(0);
    expect((await relayTaskIds(relay, account)).sort()).toEqual([...ids].sort());
  }, 90_000);

  it('is delivered once by the page when the browser has no Background Sync', async () => {
    relay = await startRelayProcess(['--pow-difficulty', '8']);
    browser = await launchAppBrowser();
    const { context } = browser;
    // Safari and Firefox: no SyncManager, no registration.sync (before any of the app's code runs).
    await context.addInitScript(() => {
      Reflect.deleteProperty(globalThis, 'SyncManager');
      Reflect.deleteProperty(ServiceWorkerRegistration.prototype, 'sync');
    });
    const posts = watchTaskPosts(context, relay);
    const page = await openOnboardedApp(context, relay);
    expect(await page.evaluate(() => 'SyncManager' in window || 'sync' in ServiceWorkerRegistration.prototype)).toBe(
      false,
    );
    const account = await accountOf(page);
    const ids = await queueTasksOffline(page, context);
    expect(await relayTaskPosts(relay)).toBe(0);

    await context.setOffline(false);
    await posts.reached(TEXTS.length);
    await page.locator('[data-testid=outbox-queued][data-count="0"]').waitFor();
    await expectVerified(page, ids);
    expect(await relayTaskPosts(relay)).toBe(TEXTS.length);
    expect(posts.fromPage).toBe(TEXTS.length);
    expect(posts.fromServiceWorker).toBe(0);
    expect((await relayTaskIds(relay, account)).sort()).toEqual([...ids].sort());
  }, 90_000);
});
