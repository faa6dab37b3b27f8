/**
 * vitest global setup: makes sure dist/models holds the shipped models built
 * from the current sources (rebuilt when any file under relay/models or
 * shared/models changed since the last build).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModels, DEFAULT_MODELS_DIR } from '../../relay/models/build.ts';

async function sourceStamp(): Promise<string> {
  const hash = createHash('sha256');
  for (const dir of ['relay/models', 'shared/models']) {
    const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((f) => f.isFile())
      .map((f) => join(f.parentPath, f.name))
      .sort();
    for (const file of files) hash.update(file).update(await readFile(file));
  }
  return hash.digest('hex');
}

export default async function setup(): Promise<void> {
  const stampFile = join(DEFAULT_MODELS_DIR, 'sources.sha256');
  const stamp = await sourceStamp();
  const previous = await readFile(stampFile, 'utf8').catch(() => '');
  if (previous === stamp) return;
  await buildModels(DEFAULT_MODELS_DIR);
  await writeFile(stampFile, stamp);
}
