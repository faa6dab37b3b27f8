/**
 * A vite dev server for a test page that runs libp2p in Chromium (the test
 * pages' `bench` mode, from the repository's root), and its origin.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type ProxyOptions, type ViteDevServer } from 'vite';

const PATCH_DIR = 'relay/patches';

export interface TestPageServerInit {
  /** The page, from the repository's root (`/test/support/…/index.html`). */
  readonly pagePath: string;
  /** Names the page's own pre-bundle cache under node_modules/.vite. */
  readonly cacheName: string;
  readonly proxy?: Record<string, ProxyOptions>;
}

export async function startTestPageServer(init: TestPageServerInit): Promise<ViteDevServer> {
  const server = await createServer({
    configFile: 'vite.config.ts',
    mode: 'bench',
    root: process.cwd(),
    // The pre-bundle follows what patch-package applied to @libp2p/webrtc.
    cacheDir: `node_modules/.vite/${init.cacheName}-${await patchesHash()}`,
    logLevel: 'error',
    // Pre-bundle everything the page imports before the first request, so vite never reloads it mid-run.
    optimizeDeps: { entries: [init.pagePath.slice(1)] },
    server: { host: '127.0.0.1', port: 0, hmr: false, ...(init.proxy ? { proxy: init.proxy } : {}) },
  });
  await server.listen();
  return server;
}

/** A short hash of every patch file. */
async function patchesHash(): Promise<string> {
  const hash = createHash('sha256');
  const names = await readdir(PATCH_DIR).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.patch')).sort()) {
    hash.update(name).update(await readFile(join(PATCH_DIR, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

export function serverOrigin(server: ViteDevServer): string {
  const address = server.httpServer?.address();
  if (typeof address !== 'object' || address === null) throw new Error('vite dev server is not listening');
  return `http://127.0.0.1:${address.port}`;
}
