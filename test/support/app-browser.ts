/**
 * Real headless Chromium for the app's end-to-end tests, through
 * playwright-core: a persistent profile (installability checks refuse
 * incognito contexts) in a fresh temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';

export interface AppBrowser {
  readonly context: BrowserContext;
  readonly profileDir: string;
  /** Closes the browser and deletes the profile. */
  close(): Promise<void>;
}

export async function launchAppBrowser(
  options: { readonly profileDir?: string; readonly deviceScaleFactor?: number } = {},
): Promise<AppBrowser> {
  const profileDir = options.profileDir ?? (await mkdtemp(join(tmpdir(), 'acn-profile-')));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 360, height: 740 },
    deviceScaleFactor: options.deviceScaleFactor ?? 1,
    serviceWorkers: 'allow',
  });
  return {
    context,
    profileDir,
    async close() {
      await context.close();
      if (options.profileDir === undefined) await rm(profileDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the page is controlled by the app's service worker (the precache is complete by then). */
export async function waitForServiceWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (navigator.serviceWorker.controller) return;
    await new Promise<void>((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', () => {
        resolve();
      });
    });
  });
}
