/**
 * Loads everything a catalogue entry's pipeline runs on, from any runtime and
 * any byte source (disk, Cache Storage, the network): the main session, one
 * session per ONNX asset, and the raw bytes of the other assets.
 */
import type { Hash } from '../identity/ids.ts';
import type { ModelEntry } from './catalogue.ts';
import type { ModelPipeline, PipelineModels } from './pipeline.ts';
import { checkModelBytes, type InferenceRuntime, type LoadOptions } from './runtime.ts';

/** Reads a content-addressed file. Every file's hash is checked before use (ONNX ones by the runtime). */
export type ReadModelFile = (hash: Hash) => Promise<Uint8Array>;

export async function loadPipelineModels(
  runtime: InferenceRuntime,
  entry: ModelEntry,
  pipeline: Pick<ModelPipeline<unknown, unknown>, 'sessionAssets'>,
  read: ReadModelFile,
  options: LoadOptions = {},
): Promise<PipelineModels> {
  const sessionRoles = new Set(pipeline.sessionAssets ?? []);
  const main = await runtime.load(await read(entry.id), entry.id, options);
  const sessions: Record<string, PipelineModels['main']> = {};
  const files: Record<string, Uint8Array> = {};
  try {
    for (const asset of entry.assets) {
      const bytes = await read(asset.id);
      if (sessionRoles.has(asset.role)) {
        sessions[asset.role] = await runtime.load(bytes, asset.id, options);
      } else {
        const checked = checkModelBytes(bytes, asset.id);
        if (!checked.ok) throw checked.error;
        files[asset.role] = bytes;
      }
    }
  } catch (error) {
    await Promise.all([main, ...Object.values(sessions)].map((s) => s.release()));
    throw error;
  }
  return { main, sessions, files, textGeneration: entry.textGeneration };
}

/** Releases every session of a loaded pipeline. */
export async function releasePipelineModels(models: PipelineModels): Promise<void> {
  await Promise.all([models.main, ...Object.values(models.sessions)].map((s) => s.release()));
}
