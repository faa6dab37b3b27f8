/**
 * `npm run screenshots`: the manifest's narrow and wide screenshots, taken
 * from the real app served by a real relay in headless Chromium, written to
 * public/screenshots/. Run it after a visible change to the home or run screen.
 */
import { mkdir } from 'node:fs/promises';
import { ensureAppBuilt } from '#server/app-build.ts';
import { launchAppBrowser } from './app-browser.ts';
import { startRelayProcess } from './relay-process.ts';

const OUT = 'public/screenshots';

await ensureAppBuilt();
await mkdir(OUT, { recursive: true });
const relay = await startRelayProcess(['--pow-difficulty', '8']);
const browser = await launchAppBrowser({ deviceScaleFactor: 2 });
try {
  const page = await browser.context.newPage();
  // Narrow: a 360 px phone at 2x, on the home screen once the grant has arrived.
  await page.setViewportSize({ width: 360, height: 640 });
  await page.goto(relay.joinUrl);
  await page.click('[data-testid=onboarding-start]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=balance]:not([data-value=""])', { timeout: 60_000 });
  await page.screenshot({ path: `${OUT}/narrow.png`, scale: 'device' });
  // Wide: a laptop window on the run screen.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${relay.url}/run`);
  await page.waitForSelector('[data-testid=model-option]', { timeout: 60_000 });
  await page.screenshot({ path: `${OUT}/wide.png`, scale: 'css' });
} finally {
  await browser.close();
  await relay.stop();
  await relay.cleanup();
}
