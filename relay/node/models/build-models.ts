/**
 * Builds the shipped models into a content-addressed directory: every file is
 * written as `<sha256>` and `catalogue.json` lists the entries. Sources are npm
 * and Debian packages and the project's own scripts; nothing is downloaded.
 *
 * `npm run models` (relay/model-tools/cli.ts) runs it by hand; the relay and
 * the tests call ensureModelsBuilt.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { decodeModelEntry } from '#core/models/catalogue.ts';
import type { Hash, ModelId } from '#core/identity/ids.ts';
import type { BuiltModel, ModelBuilder } from './builders/builder.ts';
import { builders } from './builders/builders.ts';

export const DEFAULT_MODELS_DIR = 'dist/models';

export interface BuildModelsOptions {
  /** Build only these builders (by name). Default: all. */
  readonly only?: readonly string[];
  readonly log?: (line: string) => void;
  /** Name of the catalogue file written in `outDir`. Default `catalogue.json`. */
  readonly catalogueFile?: string;
}

export async function buildModels(outDir = DEFAULT_MODELS_DIR, options: BuildModelsOptions = {}): Promise<Catalogue> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await mkdir(outDir, { recursive: true });
  const selected: ModelBuilder[] = builders.filter((b) => !options.only || options.only.includes(b.name));
  const entries: ModelEntry[] = [];
  for (const builder of selected) {
    log(`models: building ${builder.name}`);
    for (const built of await builder.build((line) => {
      log(`  ${builder.name}: ${line}`);
    })) {
      entries.push(await writeModel(outDir, built));
    }
  }
  const catalogue: Catalogue = { v: 1, models: entries };
  const catalogueFile = options.catalogueFile ?? 'catalogue.json';
  const tmp = join(outDir, `${catalogueFile}.tmp`);
  await writeFile(tmp, JSON.stringify(catalogue, null, 2) + '\n');
  await rename(tmp, join(outDir, catalogueFile));
  log(`models: ${entries.length} models in ${outDir}`);
  return catalogue;
}

async function writeModel(outDir: string, built: BuiltModel): Promise<ModelEntry> {
  const id = await writeFile256(outDir, built.main);
  const assets = [];
  for (const asset of built.assets ?? []) {
    assets.push({ role: asset.role, id: await writeFile256(outDir, asset.bytes), bytes: asset.bytes.length });
  }
  const entry = { ...built.entry, id: id as ModelId, bytes: built.main.length, assets };
  const checked = decodeModelEntry(entry);
  if (!checked.ok) throw checked.error;
  return checked.value;
}

async function writeFile256(outDir: string, bytes: Uint8Array): Promise<Hash> {
  const hash = sha256Hex(bytes) as Hash;
  await writeFile(join(outDir, hash), bytes);
  return hash;
}

/** A hash of everything the shipped models are built from: builder and pipeline sources and locked package versions. */
async function sourceStamp(): Promise<string> {
  const hash = createHash('sha256');
  for (const dir of ['relay/node/models', 'shared/core/models', 'shared/core/pipelines']) {
    const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((f) => f.isFile())
      .map((f) => join(f.parentPath, f.name))
      .sort();
    for (const file of files) hash.update(file).update(await readFile(file));
  }
  hash.update(await readFile('package-lock.json'));
  return hash.digest('hex');
}

/** Builds the shipped models into `outDir` unless they were already built from the same sources. */
export async function ensureModelsBuilt(outDir = DEFAULT_MODELS_DIR, options: BuildModelsOptions = {}): Promise<void> {
  const stampFile = join(outDir, `${options.catalogueFile ?? 'catalogue.json'}.sources`);
  const stamp = await sourceStamp();
  if ((await readFile(stampFile, 'utf8').catch(() => '')) === stamp) return;
  await buildModels(outDir, options);
  await writeFile(stampFile, stamp);
}
