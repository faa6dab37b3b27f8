/**
 * The app works offline after one visit: with the relay stopped and the
 * browser offline, every screen loads from the service worker's precache
 * (a full navigation to each address), the header says the relay is out of
 * reach, a task can still be prepared from the last catalogue seen and
 * queued, and running on the phone a model it never downloaded says why it
 * cannot.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { chooseModel, navigateTo, openOnboardedApp, runTextOnNetwork } from '#test/app-session.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let browser: AppBrowser;

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess(['--pow-difficulty', '8']);
  browser = await launchAppBrowser();
}, 300_000);

afterAll(async () => {
  await browser.close();
  await relay.stop();
  await relay.cleanup();
});

/**
 * The header says the relay is out of reach, and why as far as the browser
 * knows: "offline" when `navigator.onLine` is false, else "no relay".
 * Chromium 150 (Debian's at the time of writing) applies the emulated offline
 * state to the open document only, so a page loaded after `setOffline(true)`
 * reads `navigator.onLine === true` there; later Chromium versions say false.
 */
async function expectRelayOutOfReach(page: Page, where = 'after reload'): Promise<void> {
  const header = page.locator('[data-testid=connection-state]');
  await header.and(page.locator('[data-state=offline], [data-state=unreachable]')).waitFor();
  const browserOnline = await page.evaluate(() => navigator.onLine);
  expect(await header.getAttribute('data-state'), where).toBe(browserOnline ? 'unreachable' : 'offline');
}

describe('the app offline', () => {
  it('shows every screen from the precache and queues a task, with the relay stopped and no network', async () => {
    const page = await openOnboardedApp(browser.context, relay);
    // One visit to the Run screen, as a user would before going offline.
    await navigateTo(page, '/run');
    await page.locator('[data-testid=model-option]').first().waitFor();
    await navigateTo(page, '/wallet');
    const account = (await page.locator('[data-testid=account-id]').textContent())?.trim();
    expect(account).toMatch(/^12D3KooW/);

    expect(await relay.stop()).toBe(0);
    await browser.context.setOffline(true);
    await page.reload();
    await expectRelayOutOfReach(page);

    const headingOf = (name: string) => page.getByRole('heading', { level: 1, name, exact: true });
    const screens = [
      { path: '/', heading: 'Home', shows: '[data-testid=outbox-queued]' },
      { path: '/run', heading: 'Run a task', shows: '[data-testid=model-option][data-model=lande-t50]' },
      { path: '/tasks', heading: 'Tasks', shows: '[data-testid=outbox-queued]' },
      { path: '/wallet', heading: 'Wallet', shows: '[data-testid=account-id]' },
      { path: '/contribute', heading: 'Contribute', shows: '[data-testid=resource-limits]' },
      { path: '/network', heading: 'Network', shows: '[data-testid=relay-key]' },
    ];
    for (const screen of screens) {
      const response = await page.goto(`${relay.url}${screen.path}`);
      expect(response?.fromServiceWorker(), screen.path).toBe(true);
      await headingOf(screen.heading).waitFor();
      await page.locator(screen.shows).first().waitFor();
      await expectRelayOutOfReach(page, screen.path);
      await expect(page.locator('[data-testid=app-failure]').count()).resolves.toBe(0);
    }
    await page.goto(`${relay.url}/wallet`);
    await expect(page.locator('[data-testid=account-id]').textContent()).resolves.toContain(account);

    // A task prepared offline, from a cold start, is queued for later.
    await page.goto(`${relay.url}/run`);
    await chooseModel(page, 'lande-t50');
    const taskId = await runTextOnNetwork(page, 'Ceci est une phrase écrite sans réseau.', 'queued');
    await navigateTo(page, '/tasks');
    await page.locator('[data-testid=outbox-queued][data-count="1"]').waitFor();
    const row = page.locator(`[data-testid=task-row][data-task-id="${taskId}"]`);
    expect(await row.getAttribute('data-source')).toBe('outbox');
    expect(await row.getAttribute('data-status')).toBe('queued');

    // A model never run on this device cannot run on it offline, and the app says why.
    await navigateTo(page, '/run');
    await chooseModel(page, 'lande-t50');
    await page.locator('[data-testid=run-text]').fill('Ceci est une phrase écrite sans réseau.');
    await page.locator('[data-testid=run-local]').click();
    const failed = page.locator('[data-testid=run-result][data-state=failed]');
    await failed.waitFor();
    expect(await failed.getAttribute('data-code')).toBe('model-unreachable');
    expect(await failed.textContent()).toContain('could not be downloaded');
  }, 90_000);
});
