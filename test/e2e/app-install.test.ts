/**
 * The app is installable: the real relay serves the built PWA, headless
 * Chromium reports no installability errors (CDP), the manifest has every
 * field the issue lists, and the relay sends the right caching headers.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR } from '#server/app-build.ts';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import { launchAppBrowser, waitForServiceWorker, type AppBrowser } from '#test/app-browser.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

interface ManifestIcon {
  src: string;
  sizes: string;
  type?: string;
  purpose?: string;
}

let relay: RelayProcess;
let browser: AppBrowser;

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess();
  browser = await launchAppBrowser();
}, 300_000);

afterAll(async () => {
  await browser.close();
  await relay.stop();
  await relay.cleanup();
});

describe('installable PWA served by the relay', () => {
  it('is a production build, although vitest (NODE_ENV=test) built it', async () => {
    const scripts = (await readdir(join(APP_DIR, 'assets'))).filter((name) => name.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(10);
    const devMode: string[] = [];
    for (const name of scripts) {
      if ((await readFile(join(APP_DIR, 'assets', name), 'utf8')).includes('Lit is in dev mode')) devMode.push(name);
    }
    expect(devMode).toEqual([]);
    // Workbox's development build logs every request with this console style.
    expect(await readFile(join(APP_DIR, 'sw.js'), 'utf8')).not.toContain('%cworkbox');
  });

  it('has no installability errors once the service worker controls the page', async () => {
    const page = await browser.context.newPage();
    await page.goto(relay.joinUrl);
    await waitForServiceWorker(page);
    const cdp = await browser.context.newCDPSession(page);
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: { errorId: string }[];
    };
    expect(installabilityErrors).toEqual([]);
    await page.close();
  });

  it('has a complete manifest with generated icons, screenshots and shortcuts', async () => {
    const response = await fetch(`${relay.url}/manifest.webmanifest`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const manifest = (await response.json()) as Record<string, unknown> & {
      icons: ManifestIcon[];
      screenshots: (ManifestIcon & { form_factor?: string })[];
      shortcuts: { name: string; url: string }[];
    };
    for (const field of ['id', 'name', 'short_name', 'start_url', 'scope', 'theme_color', 'background_color']) {
      expect(manifest[field], field).toEqual(expect.any(String));
    }
    expect(manifest.display).toBe('standalone');
    const icon = (size: string, purpose?: string) =>
      manifest.icons.find((i) => i.sizes === size && (purpose === undefined || i.purpose === purpose));
    expect(icon('192x192')).toBeDefined();
    expect(icon('512x512')).toBeDefined();
    expect(icon('512x512', 'maskable')).toBeDefined();
    for (const i of manifest.icons) {
      const file = await fetch(new URL(i.src, relay.url));
      expect(file.status, i.src).toBe(200);
      expect(file.headers.get('content-type')).toMatch(/^image\//);
    }
    expect(manifest.screenshots.map((s) => s.form_factor).sort()).toEqual(['narrow', 'wide']);
    for (const s of manifest.screenshots) {
      expect((await fetch(new URL(s.src, relay.url))).status, s.src).toBe(200);
    }
    expect(manifest.shortcuts.length).toBeGreaterThan(0);
  });

  it('caches hashed assets forever and revalidates the shell and the service worker', async () => {
    const html = await (await fetch(`${relay.url}/`)).text();
    const asset = /\/assets\/[^"]+\.js/.exec(html)?.[0];
    expect(asset).toBeDefined();
    const immutable = await fetch(`${relay.url}${asset ?? ''}`);
    expect(immutable.headers.get('cache-control')).toContain('immutable');
    for (const path of ['/', '/index.html', '/sw.js', '/run', '/tasks/abc']) {
      const response = await fetch(`${relay.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('cache-control'), path).toBe('no-cache');
    }
    const headers = (await fetch(`${relay.url}/`)).headers;
    expect(headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });
});
