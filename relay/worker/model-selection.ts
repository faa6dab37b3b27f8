/**
 * Which of the relay's models this worker offers. A model is offered when the
 * worker was asked for it (`all`, or by id, id prefix or name), this worker
 * can run it (a pipeline for it, not a `heavy` job, and `desktop` models only
 * off the `mobile` preset, as the scheduler sizes workers), it pays at least
 * the worker's price per unit, and its files fit the storage share (taken in
 * catalogue order, so the cheapest to keep are not preferred over the first).
 */
import type { ModelId } from '#core/identity/ids.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { MAX_ADVERT_MODELS } from '#core/messages/worker-advert.ts';
import type { PresetName } from '#core/resources/allocation.ts';
import { modelFiles } from './model-cache.ts';

/** `all`, or model ids, id prefixes (8 hex characters or more) or names. */
export type ModelWish = 'all' | readonly string[];

export interface ModelSelectionInput {
  readonly catalogue: Catalogue;
  readonly wanted: ModelWish;
  readonly preset: PresetName | 'custom';
  readonly pricePerUnit: number;
  /** Bytes of model files the worker may keep on disk. */
  readonly storageBytes: number;
}

export interface SkippedModel {
  /** The entry's name, or the wish that matched nothing. */
  readonly name: string;
  readonly reason: 'unknown' | 'heavy' | 'desktop-on-mobile' | 'no-pipeline' | 'below-price' | 'no-room' | 'too-many';
}

export interface ModelSelection {
  readonly models: readonly ModelEntry[];
  readonly skipped: readonly SkippedModel[];
  /** Bytes of the chosen models' files. */
  readonly bytes: number;
}

function matches(entry: ModelEntry, wish: string): boolean {
  const w = wish.trim();
  if (w === entry.name || w === entry.id) return true;
  return /^[0-9a-f]{8,64}$/.test(w) && entry.id.startsWith(w);
}

export function selectModels(input: ModelSelectionInput): ModelSelection {
  const { catalogue, wanted } = input;
  const skipped: SkippedModel[] = [];
  let candidates: ModelEntry[];
  if (wanted === 'all') {
    candidates = [...catalogue.models];
  } else {
    candidates = catalogue.models.filter((entry) => wanted.some((wish) => matches(entry, wish)));
    for (const wish of wanted) {
      if (!catalogue.models.some((entry) => matches(entry, wish))) skipped.push({ name: wish, reason: 'unknown' });
    }
  }
  const models: ModelEntry[] = [];
  const seen = new Set<ModelId>();
  let bytes = 0;
  for (const entry of candidates) {
    if (seen.has(entry.id)) continue;
    seen.add(entry.id);
    const skip = (reason: SkippedModel['reason']): void => {
      // Heavy jobs are the relay's: listing them under `all` would only be noise.
      if (!(wanted === 'all' && reason === 'heavy')) skipped.push({ name: entry.name, reason });
    };
    if (entry.sizeClass === 'heavy') {
      skip('heavy');
      continue;
    }
    if (entry.sizeClass === 'desktop' && input.preset === 'mobile') {
      skip('desktop-on-mobile');
      continue;
    }
    if (pipelineFor(entry.pre) === undefined || entry.post !== entry.pre) {
      skip('no-pipeline');
      continue;
    }
    if (entry.price.perUnit < input.pricePerUnit) {
      skip('below-price');
      continue;
    }
    const size = modelFiles(entry).reduce((sum, file) => sum + file.bytes, 0);
    if (bytes + size > input.storageBytes) {
      skip('no-room');
      continue;
    }
    if (models.length >= MAX_ADVERT_MODELS) {
      skip('too-many');
      continue;
    }
    models.push(entry);
    bytes += size;
  }
  return { models, skipped, bytes };
}
