/**
 * A module Web Worker that runs one catalogue model on the device: fetches
 * the model's files through the model store (Cache Storage, resumable
 * downloads, hash checks), loads them in onnxruntime-web (WebGPU when there
 * is an adapter, else WASM), runs the entry's pipeline from shared/core/models
 * and posts the canonical output bytes, one request at a time.
 *
 * The worker keeps onnxruntime initialised and the last model loaded, so the
 * next task on the same model starts at once; run-locally.ts keeps an idle
 * worker for a while for that reason, and terminates it on cancel (which
 * stops the run at once and frees onnxruntime's memory with the worker).
 *
 * A language model's text streams out as it is made: with `stream` set, every
 * piece's text is posted as a `text` message while the run goes on. A `stop`
 * message ends a generation early with what it made so far (the result then
 * says `finish: 'stopped'`); the worker, its runtime and its model stay, so
 * the next message starts at once.
 */
import type { Hash } from '#core/identity/ids.ts';
import type { PipelineModels } from '#core/models/pipeline.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { InvalidModelError } from '#core/models/errors.ts';
import { loadPipelineModels, releasePipelineModels } from '#core/models/load-models.ts';
import type { ModelSession } from '#core/models/runtime.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { Backend } from '#core/messages/receipt.ts';
import { createModelStore } from '#browser-storage/model-store.ts';
import { createOrtWebRuntime, type OrtWebRuntime } from './ort-web-runtime.ts';

/** Page to worker: run `entry` on `input`. */
export interface LocalRunRequest {
  readonly entry: ModelEntry;
  readonly input: Uint8Array;
  /** Absolute URL models are fetched from by hash (`<relay>/models/`). */
  readonly modelBaseUrl: string;
  /** Absolute URL of onnxruntime-web's wasm files (`<relay>/ort/`). */
  readonly ortBaseUrl: string;
  /** WASM threads and WebGPU use: fixed by the worker's first request (onnxruntime initialises once). */
  readonly threads: number;
  readonly webgpu: boolean;
  /**
   * Only initialise onnxruntime and load the model, run nothing (`input` is
   * ignored; the result's output is empty). A worker warmed so answers its
   * first real task without the seconds onnxruntime's start takes. Default false.
   */
  readonly warmOnly?: boolean;
  /** Post each generated piece's text as it is made (`text` messages). Default false. */
  readonly stream?: boolean;
}

/**
 * Page to worker, during a run: end the generation now with what it made.
 * `proof` is the requester's signed `task/stop` for a network task (what lets
 * the shorter answer be paid); a run on the phone for its own user needs none.
 */
export interface LocalStopRequest {
  readonly type: 'stop';
  readonly proof?: Uint8Array;
}

/** Worker to page. */
export type LocalRunMessage =
  | {
      readonly type: 'download';
      readonly hash: Hash;
      /** Bytes of all the entry's files downloaded so far, and their total. */
      readonly loaded: number;
      readonly total: number;
      readonly bytesPerSecond: number;
    }
  | {
      readonly type: 'result';
      readonly output: Uint8Array;
      readonly backend: Backend;
      readonly ms: number;
      readonly loadMs: number;
      /** WASM threads onnxruntime runs with (1 without cross-origin isolation). */
      readonly threads: number;
    }
  /** A generated piece (`index` from 0) and the text it makes final ('' while held back); only with `stream`. */
  | { readonly type: 'text'; readonly index: number; readonly text: string }
  | { readonly type: 'error'; readonly name: string; readonly code: string | undefined; readonly message: string };

// This file runs in a DedicatedWorkerGlobalScope; web/ is typed with the DOM's globals.
const scope = globalThis as unknown as {
  postMessage(message: LocalRunMessage, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<LocalRunRequest | LocalStopRequest>) => void) | null;
};

/** The run in progress, for a `stop` message. */
let current: AbortController | undefined;

scope.onmessage = ({ data }) => {
  if ('type' in data) {
    current?.abort(new StopRequest(data.proof ?? new Uint8Array(0)));
    return;
  }
  run(data).then(
    (result) => {
      scope.postMessage(result, [result.output.buffer as ArrayBuffer]);
    },
    (error: unknown) => {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      const code = (error as { code?: unknown } | undefined)?.code;
      scope.postMessage({ type: 'error', name, code: typeof code === 'string' ? code : undefined, message });
    },
  );
};

let runtime: Promise<OrtWebRuntime> | undefined;
/** The last model loaded, kept for the next task on it. */
let loaded: { readonly id: Hash; readonly models: PipelineModels } | undefined;

async function run(request: LocalRunRequest): Promise<LocalRunMessage & { type: 'result' }> {
  const controller = new AbortController();
  current = controller;
  try {
    return await runModel(request, controller.signal);
  } finally {
    if (current === controller) current = undefined;
  }
}

async function runModel(request: LocalRunRequest, signal: AbortSignal): Promise<LocalRunMessage & { type: 'result' }> {
  const { entry } = request;
  const pipeline = pipelineFor(entry.pre);
  if (!pipeline) throw new InvalidModelError(`this app has no pipeline ${entry.pre} for ${entry.name}`);
  const input = request.warmOnly === true ? undefined : pipeline.decodeInput(request.input);
  if (input?.ok === false) throw input.error;

  const loadStarted = performance.now();
  runtime ??= createOrtWebRuntime({
    wasmPaths: request.ortBaseUrl,
    numThreads: request.threads,
    webgpu: request.webgpu,
  });
  const ort = await runtime;
  if (loaded?.id !== entry.id) {
    const previous = loaded;
    loaded = undefined;
    if (previous) await releasePipelineModels(previous.models);
    loaded = { id: entry.id, models: await loadPipelineModels(ort, entry, pipeline, reader(request)) };
  }
  const started = performance.now();
  if (input === undefined) {
    return {
      type: 'result',
      output: new Uint8Array(0),
      backend: ort.backend,
      ms: 0,
      loadMs: started - loadStarted,
      threads: ort.threads,
    };
  }
  const onText =
    request.stream === true
      ? (index: number, text: string) => {
          scope.postMessage({ type: 'text', index, text });
        }
      : undefined;
  // A generation steps through the model once per piece, and onnxruntime's WASM steps never leave the
  // microtask queue: letting the worker's event loop run before each step is what lets a `stop` message in.
  const generates = entry.kind === 'text-generation';
  const models = generates ? { ...loaded.models, main: yieldingSession(loaded.models.main) } : loaded.models;
  const output = pipeline.encodeOutput(await pipeline.run(models, input.value, { signal, onText }));
  const ms = performance.now() - started;
  return { type: 'result', output, backend: ort.backend, ms, loadMs: started - loadStarted, threads: ort.threads };
}

/** Reads the entry's files through the model store, reporting download progress over all of them. */
function reader(request: LocalRunRequest): (hash: Hash) => Promise<Uint8Array> {
  const { entry } = request;
  const store = createModelStore({ baseUrl: request.modelBaseUrl });
  const sizes = new Map<string, number>([
    [entry.id, entry.bytes],
    ...entry.assets.map((a) => [a.id, a.bytes] as const),
  ]);
  const total = [...sizes.values()].reduce((sum, n) => sum + n, 0);
  const loadedByFile = new Map<string, number>();
  return (hash) =>
    store.fetch(hash, {
      ...(sizes.has(hash) ? { size: sizes.get(hash) as number } : {}),
      onProgress: (progress) => {
        loadedByFile.set(hash, progress.loaded);
        const done = [...loadedByFile.values()].reduce((sum, n) => sum + n, 0);
        scope.postMessage({ type: 'download', hash, loaded: done, total, bytesPerSecond: progress.bytesPerSecond });
      },
    });
}

/**
 * `session`, but each run first lets the worker's pending messages through.
 * A MessageChannel round trip rather than setTimeout: nested timeouts are
 * clamped to 4 ms, which over hundreds of pieces would slow the answer.
 */
function yieldingSession(session: ModelSession): ModelSession {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, options) {
      await nextMacrotask();
      return session.run(feeds, options);
    },
    release: () => session.release(),
  };
}

function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}
