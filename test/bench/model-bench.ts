/**
 * Model benchmarks shared by the Node and browser runners: each shipped model
 * on a fixed, representative input, through its whole pipeline (pre-processing,
 * inference, post-processing), timed for a while after a warm-up.
 */
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { loadPipelineModels, releasePipelineModels, type ReadModelFile } from '#core/models/load-models.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import { measure } from './measure.ts';

export interface ModelBenchRow {
  readonly model: string;
  readonly kind: string;
  readonly msPerItem: number;
  readonly itemsPerSec: number;
}

/** A deterministic table of `rows` x `cols` numbers with some structure (clusters along a line). */
function table(rows: number, cols: number): number[][] {
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i % 3) * 4 + j * 0.5 + next()));
}

/** A 28x28 grey image of a light trouser-like shape on black. */
function garment(): { width: number; height: number; channels: 1; data: Uint8Array } {
  const data = new Uint8Array(28 * 28);
  for (let y = 2; y < 27; y++) {
    for (let x = 8; x < 20; x++) if (y < 8 || x < 13 || x > 15) data[y * 28 + x] = 200;
  }
  return { width: 28, height: 28, channels: 1, data };
}

/** The benchmark input of an entry, or undefined for kinds without one. */
export function sampleInput(entry: ModelEntry): Uint8Array | undefined {
  switch (entry.kind) {
    case 'language-id':
      return new TextEncoder().encode('The committee will publish its report on the new railway line next spring.');
    case 'image-classification':
      return encodeCanonical(garment());
    case 'linear-regression':
    case 'pca':
      return encodeCanonical({ rows: table(1000, 8) });
    case 'kmeans':
      return encodeCanonical({ rows: table(1000, 8), k: 3 });
    default:
      return undefined;
  }
}

export async function benchModels(
  runtime: InferenceRuntime,
  catalogue: Catalogue,
  read: ReadModelFile,
  options: { readonly minMs?: number; readonly extraInputs?: Readonly<Record<string, Uint8Array>> } = {},
): Promise<ModelBenchRow[]> {
  const rows: ModelBenchRow[] = [];
  for (const entry of catalogue.models) {
    const pipeline = pipelineFor(entry.pre);
    const bytes = options.extraInputs?.[entry.kind] ?? sampleInput(entry);
    if (!pipeline || !bytes) continue;
    const input = pipeline.decodeInput(bytes);
    if (!input.ok) throw input.error;
    const models = await loadPipelineModels(runtime, entry, pipeline, read);
    try {
      const m = await measure(entry.name, () => pipeline.run(models, input.value), options.minMs ?? 1000);
      rows.push({ model: entry.name, kind: entry.kind, msPerItem: m.msPerOp, itemsPerSec: m.opsPerSec });
    } finally {
      await releasePipelineModels(models);
    }
  }
  return rows;
}
