/**
 * The models: the relay's catalogue (kept in the settings for offline use)
 * and running a catalogue model on this device (the local-inference module,
 * with onnxruntime-web, is loaded on the first local run only).
 */
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import type { AIComputeClient } from '#client/sdk/client.ts';
import { isRetryable } from '#client/sdk/errors.ts';
import type { LocalDownloadProgress, LocalRunResult } from '../inference/run-locally.ts';
import type { SettingsStore } from './settings-store.ts';

/** The last catalogue read from the relay. */
const CATALOGUE_SETTING = 'catalogue';

/** What a local run takes besides the model and its input. */
export interface LocalRunOptions {
  /** Called while the model's files download (not at all when they are on the device already). */
  readonly onDownloadProgress?: (progress: LocalDownloadProgress) => void;
  /** Cancels the run. */
  readonly signal?: AbortSignal;
  /** A language model's text as it is made (each generated piece's index and the text it makes final). */
  readonly onText?: (index: number, text: string) => void;
  /** Ends a generation early: the run resolves with what was made so far. */
  readonly stop?: AbortSignal;
}

export interface ModelServiceInit {
  /** Reads the catalogue from the relay. */
  readonly client: Pick<AIComputeClient, 'models'>;
  /** The relay that serves the model files and onnxruntime-web. */
  readonly relayUrl: string;
  /** Where the last catalogue is kept. */
  readonly settings: SettingsStore;
  /** Runs a model on this device. Default: web/inference/run-locally.ts, loaded on first use. */
  readonly runLocally?: (
    entry: ModelEntry,
    input: Uint8Array,
    options: LocalRunOptions & { readonly relayUrl: string },
  ) => Promise<LocalRunResult>;
}

export interface ModelService {
  /**
   * The relay's model catalogue (fetched once; again after a failure). When
   * the relay cannot be reached, the last catalogue read is returned, so
   * tasks can still be prepared offline and queued.
   */
  catalogue(options?: { signal?: AbortSignal }): Promise<Catalogue>;
  /** The catalogue entry of a model id, when the catalogue can be read. */
  modelEntry(id: string, options?: { signal?: AbortSignal }): Promise<ModelEntry | undefined>;
  /** Runs `entry` on this device on the pipeline's input bytes. */
  runLocally(entry: ModelEntry, input: Uint8Array, options?: LocalRunOptions): Promise<LocalRunResult>;
}

const loadedRunLocally: NonNullable<ModelServiceInit['runLocally']> = async (entry, input, options) => {
  const { runLocally } = await import('../inference/run-locally.ts');
  return runLocally(entry, input, options);
};

/** Makes the model service; the catalogue is fetched on first use. */
export function createModelService(init: ModelServiceInit): ModelService {
  const { client, settings } = init;
  const runLocally = init.runLocally ?? loadedRunLocally;
  let catalogue: Promise<Catalogue> | undefined;

  const service: ModelService = {
    catalogue(options = {}) {
      catalogue ??= client.models(options).then(
        (read) => {
          void settings.write(CATALOGUE_SETTING, read, { announce: false }).catch(() => undefined);
          return read;
        },
        async (error: unknown) => {
          catalogue = undefined;
          const kept = isRetryable(error) ? await settings.read(CATALOGUE_SETTING).catch(() => undefined) : undefined;
          if (kept === undefined) throw error;
          return kept as Catalogue;
        },
      );
      return catalogue;
    },

    async modelEntry(id, options = {}) {
      try {
        return (await service.catalogue(options)).models.find((m) => m.id === id);
      } catch {
        return undefined;
      }
    },

    runLocally(entry, input, options = {}) {
      return runLocally(entry, input, { ...options, relayUrl: init.relayUrl });
    },
  };
  return service;
}
