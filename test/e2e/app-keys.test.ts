/**
 * The account key lives on the device: the same account after a reload and
 * after a browser restart with the same profile; an encrypted backup
 * (passphrase twice, a file download) restored on a fresh profile from the
 * first-open screen brings the same account and its balance there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { chooseModel, navigateTo, openOnboardedApp, runTextOnNetwork, waitForBalance } from '#test/app-session.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const PASSPHRASE = 'correct horse battery staple';
const GRANT = 1_000_000;

let relay: RelayProcess;
let profileDir: string;
const browsers: AppBrowser[] = [];

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess(['--pow-difficulty', '8', '--grant', String(GRANT)]);
  profileDir = await mkdtemp(join(tmpdir(), 'acn-keys-profile-'));
}, 300_000);

afterAll(async () => {
  for (const browser of browsers) await browser.close();
  await relay.stop();
  await relay.cleanup();
  await rm(profileDir, { recursive: true, force: true });
});

async function launch(options: { profileDir?: string } = {}): Promise<AppBrowser> {
  const browser = await launchAppBrowser(options);
  browsers.push(browser);
  return browser;
}

async function close(browser: AppBrowser): Promise<void> {
  browsers.splice(browsers.indexOf(browser), 1);
  await browser.close();
}

/** The wallet's account id, once the services have loaded. */
async function walletAccount(page: Page): Promise<string> {
  const id = page.locator('[data-testid=account-id]');
  await id.waitFor();
  return ((await id.textContent()) ?? '').trim();
}

/** The account's balance on the relay. */
async function relayBalance(account: string): Promise<number> {
  const response = await fetch(`${relay.url}/api/ledger/balance/${account}`);
  return ((await response.json()) as { balance: number }).balance;
}

describe('the account key', () => {
  let account = '';
  let balance = 0;
  let backup = '';

  it('survives a reload and a browser restart with the same profile', async () => {
    const first = await launch({ profileDir });
    const page = await openOnboardedApp(first.context, relay);
    // Spend a little, so the balance is this account's own and not any new account's grant.
    await navigateTo(page, '/run');
    await chooseModel(page, 'lande-t50');
    await runTextOnNetwork(page, 'Dit is een korte Nederlandse zin over het weer van vandaag.');
    await navigateTo(page, '/wallet');
    account = await walletAccount(page);
    expect(account).toMatch(/^12D3KooW/);
    balance = await relayBalance(account);
    expect(balance).toBeLessThan(GRANT);
    await page.locator(`[data-testid=wallet-balance][data-value="${balance}"]`).waitFor();

    await page.reload();
    expect(await walletAccount(page)).toBe(account);
    await close(first);

    const restarted = await launch({ profileDir });
    const again = await restarted.context.newPage();
    await again.goto(`${relay.url}/wallet`);
    expect(await walletAccount(again)).toBe(account);
    await again.locator(`[data-testid=wallet-balance][data-value="${balance}"]`).waitFor();

    // The backup: the passphrase twice, then a file download.
    await again.locator('[data-testid=backup-passphrase]').fill(PASSPHRASE);
    await again.locator('[data-testid=backup-passphrase-confirm]').fill(PASSPHRASE);
    const download = again.waitForEvent('download');
    await again.locator('[data-testid=backup-download]').click();
    backup = await readFile(await (await download).path(), 'utf8');
    expect((JSON.parse(backup) as { account?: unknown }).account).toBe(account);
    expect(backup).not.toContain(PASSPHRASE);
    await close(restarted);
  }, 90_000);

  it('moves to a fresh profile through a backup restored on first open', async () => {
    expect(backup).not.toBe('');
    const fresh = await launch();
    const page = await fresh.context.newPage();
    // Someone with a backup restores it instead of creating an account: the
    // phone solves no puzzle and claims no grant.
    const onboardRequests: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/onboard') onboardRequests.push(request.method());
    });
    await page.goto(relay.joinUrl);
    await page.locator('[data-testid=onboarding-start]').waitFor();
    await page.locator('[data-testid=onboarding-restore]').click();

    await page.locator('[data-testid=restore-file]').setInputFiles({
      name: 'acn-backup.json',
      mimeType: 'application/json',
      buffer: Buffer.from(backup),
    });
    await page.locator('[data-testid=restore-passphrase]').fill(PASSPHRASE);
    const reloaded = page.waitForEvent('load');
    await page.locator('[data-testid=restore-submit]').click();
    await page.locator('[data-testid=restore-status][data-tone=ok]').waitFor();
    await reloaded;

    expect(await waitForBalance(page)).toBe(balance);
    await navigateTo(page, '/wallet');
    expect(await walletAccount(page)).toBe(account);
    await page.locator(`[data-testid=wallet-balance][data-value="${balance}"]`).waitFor();
    // The restored account was not granted again, and the new profile asked for nothing.
    expect(await relayBalance(account)).toBe(balance);
    expect(onboardRequests).toEqual([]);
  }, 90_000);
});
