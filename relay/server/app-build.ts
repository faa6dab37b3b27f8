/**
 * Builds the app (vite, into dist/app) when the build is missing or older than
 * its sources, so `npm run relay` on a fresh clone serves the current PWA.
 * Staleness is a hash of the sources, not timestamps: a `git checkout` that
 * restores old files still triggers a rebuild.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const APP_DIR = join(ROOT, 'dist', 'app');
const STAMP = join(APP_DIR, '.sources-sha256');
/** Everything the build reads (this file too: it sets how the build runs). */
const SOURCES = [
  'web',
  'sw',
  'shared',
  'public',
  'vite.config.ts',
  'package-lock.json',
  'tsconfig.json',
  'relay/server/app-build.ts',
  'package.json',
];

async function listFiles(path: string): Promise<string[]> {
  if (!existsSync(path)) return [];
  const entries = await readdir(path, { withFileTypes: true, recursive: true }).catch(() => null);
  if (entries === null) return [path]; // a file
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** SHA-256 over the path and bytes of every source file, in a stable order. */
export async function appSourcesHash(): Promise<string> {
  const files = (await Promise.all(SOURCES.map((s) => listFiles(join(ROOT, s))))).flat().sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(relative(ROOT, file)).update('\0');
    hash.update(await readFile(file)).update('\0');
  }
  return hash.digest('hex');
}

export interface AppBuildResult {
  readonly built: boolean;
  readonly ms: number;
}

/** Runs `vite build` unless dist/app was built from exactly the current sources. */
export async function ensureAppBuilt(init: { onBuild?: () => void } = {}): Promise<AppBuildResult> {
  const started = performance.now();
  const wanted = await appSourcesHash();
  const current = await readFile(STAMP, 'utf8').catch(() => '');
  if (current === wanted && existsSync(join(APP_DIR, 'index.html'))) return { built: false, ms: 0 };
  init.onBuild?.();
  // vite is loaded only when a build is needed: it is large and the relay rarely needs it.
  const { build } = await import('vite');
  // A production build, whoever asks for it. Vite picks packages' development
  // builds (Lit's dev mode) and vite-plugin-pwa Workbox's logging whenever
  // NODE_ENV is set to anything else, and vitest sets it to "test".
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: join(ROOT, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  await writeFile(STAMP, wanted);
  return { built: true, ms: performance.now() - started };
}
