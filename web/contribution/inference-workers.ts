/**
 * The browser worker's inference: up to `concurrency` module Web Workers
 * running web/inference/local-worker.ts (onnxruntime-web; model files from
 * the relay's `/models/<sha256>`, hash-checked and cached by the model store),
 * one task at a time each.
 *
 * onnxruntime-web fixes its WASM thread count and backend when it first
 * initialises, so a change of either cannot be applied to a running Web
 * Worker: `configure` retires the workers started with the old settings (an
 * idle one at once, a busy one when its task ends) and the next task gets a
 * fresh worker with the new ones. No page reload is needed.
 *
 * A text generation streams: its Web Worker posts each piece's text, handed
 * to `onText`. Aborting a run ends it at once (the Web Worker goes), except
 * when the signal's reason is a `StopRequest` (the requester stopped it):
 * the Web Worker is told to stop, ends the generation with what it made and
 * answers with that result, and stays for the next task.
 */
import { StopRequest } from '#core/generation/stop-request.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { LocalRunMessage, LocalRunRequest, LocalStopRequest } from '../inference/local-worker.ts';
import { LocalRunError } from '../inference/run-locally.ts';

export interface InferenceSettings {
  /** WASM threads per Web Worker (onnxruntime's `numThreads`). */
  readonly threads: number;
  /** Use WebGPU when the device has an adapter. */
  readonly webgpu: boolean;
  /** Web Workers at most, one task each. */
  readonly concurrency: number;
}

export interface InferenceOutcome {
  readonly output: Uint8Array;
  readonly backend: 'wasm' | 'webgpu';
  readonly ms: number;
  /** Threads onnxruntime ran this task with. */
  readonly threads: number;
}

export interface InferenceWorkersInit extends InferenceSettings {
  /** `<relay>/models/`. */
  readonly modelBaseUrl: string;
  /** `<relay>/ort/`. */
  readonly ortBaseUrl: string;
}

/** How one task runs. */
export interface InferenceRunOptions {
  /** Ends the run; with a `StopRequest` as its reason, a generation ends with what it made instead. */
  readonly signal?: AbortSignal;
  /** Text generation: each generated piece's index and the text it makes final, as it is made. */
  readonly onText?: ((index: number, text: string) => void) | undefined;
}

export interface InferenceWorkers {
  run(entry: ModelEntry, input: Uint8Array, options?: InferenceRunOptions): Promise<InferenceOutcome>;
  /**
   * Starts a Web Worker with the settings now and loads `entry` in it, so the
   * next task does not wait for onnxruntime's start (seconds on a busy
   * machine, against the relay's 15 s for an answer). Best effort.
   */
  warm(entry: ModelEntry): Promise<void>;
  /** A worker with the settings now is warming up (tasks meanwhile go to one with the old settings). */
  readonly warming: boolean;
  configure(settings: InferenceSettings): void;
  readonly settings: InferenceSettings;
  /** Web Workers alive now, and how many started since creation (restarts included). */
  stats(): { readonly alive: number; readonly busy: number; readonly started: number };
  stop(): void;
}

interface Slot {
  readonly worker: Worker;
  /** The settings it was started with, as a key. */
  readonly key: string;
  busy: boolean;
}

const keyOf = (s: InferenceSettings): string => `${s.threads}/${s.webgpu}`;

export function createInferenceWorkers(init: InferenceWorkersInit): InferenceWorkers {
  let settings: InferenceSettings = { threads: init.threads, webgpu: init.webgpu, concurrency: init.concurrency };
  const slots = new Set<Slot>();
  let started = 0;
  /** The warm-up under way, for the settings it starts with. */
  let warming: { readonly key: string; readonly done: Promise<void> } | undefined;

  function retire(slot: Slot): void {
    slots.delete(slot);
    slot.worker.terminate();
  }

  const warmingNow = (): boolean => warming?.key === keyOf(settings);

  /** Idle workers started with other settings go, unless they still serve while new ones warm up. */
  function retireStale(): void {
    if (warmingNow()) return;
    for (const slot of [...slots]) if (!slot.busy && slot.key !== keyOf(settings)) retire(slot);
  }

  /** An idle worker with the settings now, else a new one. */
  function take(): Slot {
    const key = keyOf(settings);
    const slot = [...slots].find((s) => !s.busy && s.key === key);
    if (slot !== undefined) {
      slot.busy = true;
      return slot;
    }
    return spawn(key);
  }

  function spawn(key: string): Slot {
    const worker = new Worker(new URL('../inference/local-worker.ts', import.meta.url), {
      type: 'module',
      name: 'acn-contribute',
    });
    started++;
    const slot: Slot = { worker, key, busy: true };
    slots.add(slot);
    return slot;
  }

  function give(slot: Slot, healthy: boolean): void {
    slot.busy = false;
    // Retired: a worker that failed, one started with old settings, or one too many for the concurrency now.
    if (!healthy || slots.size > settings.concurrency || (slot.key !== keyOf(settings) && !warmingNow())) retire(slot);
  }

  const busyCount = (): number => [...slots].filter((s) => s.busy).length;

  return {
    get settings() {
      return settings;
    },
    configure(next) {
      settings = { threads: next.threads, webgpu: next.webgpu, concurrency: next.concurrency };
      retireStale();
    },
    stats: () => ({ alive: slots.size, busy: busyCount(), started }),
    stop() {
      for (const slot of [...slots]) retire(slot);
    },
    async warm(entry) {
      const key = keyOf(settings);
      if ([...slots].some((slot) => slot.key === key)) return;
      // Called right after configure(): the old workers keep serving until the new one is ready.
      const done = runOn(spawn(key), entry, new Uint8Array(0), {}, true).then(
        () => undefined,
        () => undefined,
      );
      warming = { key, done };
      await done;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a later warm-up may have replaced it
      if (warming?.done === done) warming = undefined;
      retireStale();
    },
    get warming() {
      return warmingNow();
    },
    async run(entry, input, options = {}) {
      if (warmingNow()) {
        // While a worker with the new settings warms up, an idle one with the old settings takes the task;
        // with none idle, the task waits for the warm one rather than start a second, cold one.
        const idle = [...slots].find((slot) => !slot.busy && slot.key !== warming?.key);
        if (idle !== undefined) {
          idle.busy = true;
          return runOn(idle, entry, input, options, false);
        }
        await warming?.done;
      }
      retireStale();
      return runOn(take(), entry, input, options, false);
    },
  };

  function runOn(
    slot: Slot,
    entry: ModelEntry,
    input: Uint8Array,
    options: InferenceRunOptions,
    warmOnly: boolean,
  ): Promise<InferenceOutcome> {
    const { signal, onText } = options;
    if (signal?.aborted) {
      give(slot, true);
      return Promise.reject(signal.reason as Error);
    }
    const request: LocalRunRequest = {
      entry,
      input: Uint8Array.from(input),
      modelBaseUrl: init.modelBaseUrl,
      ortBaseUrl: init.ortBaseUrl,
      threads: Number(slot.key.split('/')[0]),
      webgpu: slot.key.endsWith('/true'),
      warmOnly,
      stream: onText !== undefined,
    };
    return new Promise<InferenceOutcome>((resolve, reject) => {
      let done = false;
      const finish = (healthy: boolean, settle: () => void): void => {
        if (done) return;
        done = true;
        slot.worker.onmessage = null;
        slot.worker.onerror = null;
        signal?.removeEventListener('abort', onAbort);
        give(slot, healthy);
        settle();
      };
      // Aborting ends the run at once: the worker and its onnxruntime heap go. A requester's stop is the
      // exception: the worker ends the generation itself and answers with what it made.
      const onAbort = (): void => {
        const reason: unknown = signal?.reason;
        if (reason instanceof StopRequest) {
          slot.worker.postMessage({ type: 'stop', proof: reason.proof } satisfies LocalStopRequest);
          return;
        }
        finish(false, () => {
          reject(signal?.reason as Error);
        });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      slot.worker.onmessage = ({ data }: MessageEvent<LocalRunMessage>) => {
        if (data.type === 'download') return;
        if (data.type === 'text') {
          onText?.(data.index, data.text);
          return;
        }
        if (data.type === 'result') {
          const outcome: InferenceOutcome = {
            output: data.output,
            backend: data.backend === 'webgpu' ? 'webgpu' : 'wasm',
            ms: data.ms,
            threads: data.threads,
          };
          finish(true, () => {
            resolve(outcome);
          });
          return;
        }
        finish(false, () => {
          reject(new LocalRunError(data.name, data.code, data.message));
        });
      };
      slot.worker.onerror = (event) => {
        event.preventDefault();
        finish(false, () => {
          reject(new LocalRunError('Error', undefined, `the inference worker failed: ${event.message}`));
        });
      };
      slot.worker.postMessage(request, [request.input.buffer]);
    });
  }
}
