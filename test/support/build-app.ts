/**
 * The app tests' setup: dist/app holds the app built from the current
 * sources. Only the tests that load the app call it (a build takes tens of
 * seconds), and a lock directory keeps test files running in parallel from
 * building at the same time.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { ensureAppBuilt } from '#server/app-build.ts';

const LOCK = 'dist/.app-build.lock';
/** A lock older than this was left by a killed run. */
const STALE_MS = 5 * 60_000;

export async function ensureAppBuiltForTests(): Promise<void> {
  await mkdir('dist', { recursive: true });
  for (;;) {
    try {
      await mkdir(LOCK);
      break;
    } catch {
      const age =
        Date.now() -
        (await stat(LOCK).then(
          (s) => s.mtimeMs,
          () => Date.now(),
        ));
      if (age > STALE_MS) await rmdir(LOCK).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    await ensureAppBuilt();
  } finally {
    await rmdir(LOCK);
  }
}
