/**
 * Runs a catalogue model on this device, in a Web Worker (local-worker.ts):
 * the page stays responsive, and cancelling terminates the worker, which
 * stops the run at once and frees onnxruntime's memory.
 *
 * After a run the worker is kept idle for a while (`keepAliveMs`) with
 * onnxruntime initialised and the model loaded: the next task starts in
 * milliseconds instead of re-initialising onnxruntime's wasm (14 MB).
 *
 * A language model streams its text to `onText` as it is made, and `stop`
 * ends it early with what it made (the worker is kept: Stop is not Cancel).
 */
import type { Hash } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { LocalRunMessage, LocalRunRequest, LocalStopRequest } from './local-worker.ts';

export interface LocalDownloadProgress {
  /** The file being downloaded. */
  readonly hash: Hash;
  /** Bytes of all the model's files downloaded so far, and their total (from the catalogue). */
  readonly loaded: number;
  readonly total: number;
  readonly bytesPerSecond: number;
}

export interface RunLocallyOptions {
  /** The relay that serves the model files (`/models/<hash>`) and onnxruntime-web (`/ort/`). */
  readonly relayUrl: string;
  /** WASM threads; more than 1 only takes effect when the page is cross-origin isolated. Default 1. */
  readonly threads?: number;
  /** Use WebGPU when the device has an adapter. Default true. */
  readonly webgpu?: boolean;
  /** Called while model files download (nothing is downloaded when they are on the device already). */
  readonly onDownloadProgress?: (progress: LocalDownloadProgress) => void;
  /** Cancels the run: the worker is terminated and the promise rejects with the signal's reason (an `AbortError`). */
  readonly signal?: AbortSignal;
  /** A language model's text as it is made: each generated piece's index and the text it makes final. */
  readonly onText?: (index: number, text: string) => void;
  /**
   * Stops a generation early: unlike `signal`, the run resolves with what was
   * made so far (`finish: 'stopped'`), and the worker and its loaded model
   * are kept for the next run.
   */
  readonly stop?: AbortSignal;
  /** Where model files are fetched by hash, relative to `relayUrl`. Default `models/`. */
  readonly modelBaseUrl?: string;
  /** Where onnxruntime-web's wasm files are, relative to `relayUrl`. Default `ort/`. */
  readonly ortBaseUrl?: string;
  /** How long the worker stays alive after a run for the next one. Default 30,000 ms; 0 ends it at once. */
  readonly keepAliveMs?: number;
}

export interface LocalRunResult {
  /** The pipeline's canonical output bytes (what a receipt would hash). */
  readonly output: Uint8Array;
  readonly backend: 'webgpu' | 'wasm';
  /** Milliseconds the pipeline ran, the model already loaded. */
  readonly ms: number;
  /** Milliseconds starting onnxruntime and getting and loading the model files (near 0 when a kept worker had them). */
  readonly loadMs: number;
}

/** A failure inside the worker, with the original error's `name` and `code` (for example `InvalidModelInputError`). */
export class LocalRunError extends Error {
  override readonly name: string;
  readonly code: string | undefined;
  constructor(name: string, code: string | undefined, message: string) {
    super(message);
    this.name = name;
    this.code = code;
  }
}

const DEFAULT_KEEP_ALIVE_MS = 30_000;

/** The one worker kept between runs, with the settings it was initialised with. */
let idle: { worker: Worker; settings: string; timer: ReturnType<typeof setTimeout> } | undefined;

function takeWorker(settings: string): Worker {
  if (idle?.settings === settings) {
    const { worker, timer } = idle;
    clearTimeout(timer);
    idle = undefined;
    return worker;
  }
  return new Worker(new URL('./local-worker.ts', import.meta.url), { type: 'module', name: 'acn-inference' });
}

function keepWorker(worker: Worker, settings: string, keepAliveMs: number): void {
  if (keepAliveMs <= 0 || idle) {
    worker.terminate(); // one idle worker is enough; its onnxruntime heap is tens of MB
    return;
  }
  const timer = setTimeout(() => {
    worker.terminate();
    idle = undefined;
  }, keepAliveMs);
  idle = { worker, settings, timer };
}

/** Runs `entry` on `input` (the task's input bytes) on this device. */
export function runLocally(entry: ModelEntry, input: Uint8Array, options: RunLocallyOptions): Promise<LocalRunResult> {
  const { signal, stop } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const request: LocalRunRequest = {
    entry,
    input: Uint8Array.from(input),
    modelBaseUrl: new URL(options.modelBaseUrl ?? 'models/', base(options.relayUrl)).href,
    ortBaseUrl: new URL(options.ortBaseUrl ?? 'ort/', base(options.relayUrl)).href,
    threads: options.threads ?? 1,
    webgpu: options.webgpu ?? true,
    stream: options.onText !== undefined,
  };
  // A worker is reused only with the settings onnxruntime was initialised with.
  const settings = JSON.stringify([request.modelBaseUrl, request.ortBaseUrl, request.threads, request.webgpu]);
  const worker = takeWorker(settings);

  return new Promise<LocalRunResult>((resolve, reject) => {
    let done = false;
    const finish = (keep: boolean, settle: () => void) => {
      if (done) return;
      done = true;
      worker.onmessage = null;
      worker.onerror = null;
      signal?.removeEventListener('abort', onAbort);
      stop?.removeEventListener('abort', onStop);
      if (keep) keepWorker(worker, settings, options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS);
      else worker.terminate();
      settle();
    };
    const onAbort = () => {
      finish(false, () => {
        reject(signal?.reason as Error);
      });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // The worker ends the generation itself and answers with its shorter result.
    const onStop = () => {
      worker.postMessage({ type: 'stop' } satisfies LocalStopRequest);
    };

    worker.onmessage = ({ data }: MessageEvent<LocalRunMessage>) => {
      switch (data.type) {
        case 'download':
          options.onDownloadProgress?.({
            hash: data.hash,
            loaded: data.loaded,
            total: data.total,
            bytesPerSecond: data.bytesPerSecond,
          });
          return;
        case 'text':
          options.onText?.(data.index, data.text);
          return;
        case 'result': {
          const { output, ms, loadMs } = data;
          const backend = data.backend === 'webgpu' ? 'webgpu' : 'wasm';
          finish(true, () => {
            resolve({ output, backend, ms, loadMs });
          });
          return;
        }
        case 'error':
          // Not kept: whatever failed (onnxruntime's start, a download) should start afresh next time.
          finish(false, () => {
            reject(new LocalRunError(data.name, data.code, data.message));
          });
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      finish(false, () => {
        reject(new LocalRunError('Error', undefined, `the inference worker failed: ${event.message}`));
      });
    };
    worker.postMessage(request, [request.input.buffer]);
    // After the request, so the worker has the run to stop (a stop already asked for ends it at its first step).
    if (stop?.aborted === true) onStop();
    else stop?.addEventListener('abort', onStop, { once: true });
  });
}

/** The relay's URL with a trailing slash, so `models/` resolves under it (a relay behind a path prefix too). */
function base(relayUrl: string): string {
  const url = new URL(relayUrl, globalThis.location.href);
  url.hash = '';
  url.search = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}
