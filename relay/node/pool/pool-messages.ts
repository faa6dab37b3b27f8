/**
 * What the inference pool and its worker threads say to each other. Errors
 * cross the thread boundary as `{ name, code, message }` and are rebuilt into
 * their typed classes on the pool's side (see error-transfer.ts).
 */
import type { Hash, ModelId } from '#core/identity/ids.ts';
import type { TextGenerationSpec } from '#core/models/catalogue.ts';

/** What a worker thread is started with (its `workerData`). */
export interface PoolWorkerSetup {
  /** Directory of the content-addressed model files `<sha256>`. */
  readonly modelsDir: string;
  /** Intra-op threads of every session the worker creates; fixed for the worker's life. */
  readonly threads: number;
  /** Bytes of sessions the worker keeps cached (estimated, see `memoryFactor`). */
  readonly memoryBytes: number;
  /** A cached model's estimated memory: its files' bytes times this. */
  readonly memoryFactor: number;
}

/** One file of a model: the main ONNX file (role `main`) or an asset, by content address. */
export interface ModelFileRef {
  readonly role: string;
  readonly id: Hash;
  readonly bytes: number;
}

/** What a worker needs of a catalogue entry to run it. */
export interface PoolTaskModel {
  readonly id: ModelId;
  /** The pipeline's name (`ModelEntry.pre`). */
  readonly pipeline: string;
  readonly assets: readonly ModelFileRef[];
  /** A language model's `textGeneration` section. */
  readonly textGeneration?: TextGenerationSpec | undefined;
}

/** A serialised error: enough to rebuild its typed class on the other side. */
export interface ErrorData {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

/** A model held in a worker's session cache, with its estimated memory. */
export interface CachedModelData {
  readonly id: ModelId;
  readonly bytes: number;
}

export type ToWorker =
  | {
      readonly type: 'run';
      readonly id: number;
      readonly model: PoolTaskModel;
      readonly input: Uint8Array;
      /** Check this claimed output (the pipeline's `check`) instead of running the input; the output is the verdict. */
      readonly claim?: Uint8Array;
    }
  /** Ends a task; with `stop` (the requester's signed stop), a generation ends with what it made so far. */
  | { readonly type: 'abort'; readonly id: number; readonly stop?: Uint8Array }
  | { readonly type: 'memory'; readonly memoryBytes: number };

export type FromWorker =
  | { readonly type: 'ready' }
  /** Text a generation made final (see `PipelineRunOptions.onText`). */
  | { readonly type: 'text'; readonly id: number; readonly index: number; readonly text: string }
  | {
      readonly type: 'done';
      readonly id: number;
      readonly output: Uint8Array;
      readonly outputHash: Hash;
      readonly units: number;
      readonly runMs: number;
      readonly threads: number;
      readonly cache: readonly CachedModelData[];
    }
  | {
      readonly type: 'failed';
      readonly id: number;
      readonly error: ErrorData;
      readonly cache: readonly CachedModelData[];
    }
  | { readonly type: 'cache'; readonly cache: readonly CachedModelData[] };
