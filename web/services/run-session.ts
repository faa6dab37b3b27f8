/**
 * The Run screen's state, kept by the app while the user is on other
 * screens: the chosen model, the input given for it (text, a photo, a table
 * and its parameters), the input prepared for the pipeline with its price,
 * and the run, from sending or loading to its result or failure.
 *
 * A run goes on when the screen is left (a network task is escrowed either
 * way; a local run finishes in its worker) and its result is there on return.
 * Screens read {@link RunSession.state}, a new snapshot on every change, and
 * follow it with {@link RunSession.subscribe}.
 */
import type { TaskId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { Raster } from '#core/pipelines/image.ts';
import type { LocalDownloadProgress } from '../inference/run-locally.ts';
import { errorText, type ErrorText } from './error-text.ts';
import { imageToRaster } from './image-raster.ts';
import {
  EXAMPLE_TABLES,
  imageMaxSide,
  inputKindOf,
  parseTable,
  prepareInput,
  type PreparedInput,
  type UserInput,
} from './model-input.ts';
import type { ModelService } from './model-service.ts';
import { outputViewOf, type OutputView } from './output-view.ts';
import type { TaskService } from './task-service.ts';

/** Where a run is. */
export type RunState =
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'local';
      readonly download: LocalDownloadProgress | undefined;
      readonly phase: 'loading' | 'running';
    }
  | { readonly kind: 'network'; readonly phase: 'sending' | 'waiting'; readonly taskId: TaskId | undefined }
  | { readonly kind: 'queued'; readonly taskId: TaskId }
  | {
      readonly kind: 'done';
      readonly where: 'phone' | 'network';
      readonly view: OutputView;
      readonly backend: string | undefined;
      readonly ms: number | undefined;
      readonly taskId: TaskId | undefined;
      /** On the network: straight to a desktop worker over WebRTC, or through the relay. */
      readonly via: 'webrtc' | 'relay' | undefined;
      /** The worker's address as the direct connection saw it. */
      readonly remoteAddr: string | undefined;
    }
  | { readonly kind: 'failed'; readonly error: ErrorText };

/** What the user gave, for every input form (each keeps its own while another model is chosen). */
export interface RunInputs {
  readonly text: string;
  readonly tableText: string;
  /** The column a regression predicts; undefined: the last one. */
  readonly target: number | undefined;
  /** k-means' number of clusters. */
  readonly k: number;
  /** PCA's components to keep. */
  readonly components: number;
  readonly image: Raster<3> | undefined;
  /** An object URL of the picture, for its preview. */
  readonly previewUrl: string | undefined;
  /** A picture is being read. */
  readonly imageBusy: boolean;
}

export interface RunSnapshot {
  /** The chosen model. */
  readonly entry: ModelEntry | undefined;
  readonly inputs: RunInputs;
  /** The input ready to run, with its price; undefined while the input is missing or wrong. */
  readonly prepared: PreparedInput | undefined;
  /** What to fix in the input. */
  readonly inputError: string | undefined;
  readonly run: RunState;
}

export interface RunSessionInit {
  /** Runs a model on this device. */
  readonly models: Pick<ModelService, 'runLocally'>;
  /** Sends a task to the network, waits for it, cancels it. */
  readonly tasks: Pick<TaskService, 'submit' | 'waitForResult' | 'cancel' | 'notifyResult'>;
  /** The time in milliseconds, for pacing progress reports. Default `performance.now()`. */
  readonly now?: () => number;
  /** Shortest time between two download progress reports. Default 150 ms. */
  readonly progressIntervalMs?: number;
  /** Decodes and scales a picture. Default {@link imageToRaster}. */
  readonly readImage?: (file: Blob, maxSide: number) => Promise<Raster<3>>;
  /** Makes and frees the pictures' preview URLs. Default `URL.createObjectURL` and `URL.revokeObjectURL`. */
  readonly objectUrls?: { create(blob: Blob): string; revoke(url: string): void };
  /** Whether the page is hidden (a result that arrives then is notified). Default `document.visibilityState`. */
  readonly isHidden?: () => boolean;
}

export interface RunSession {
  /** The current snapshot. */
  readonly state: RunSnapshot;
  /** Calls `listener` with every new snapshot; returns the unsubscribe function. */
  subscribe(listener: (state: RunSnapshot) => void): () => void;
  /**
   * The catalogue as the screen shows it: the first model the app can build
   * input for is chosen when none is; a chosen model's entry is refreshed.
   */
  offer(models: readonly ModelEntry[]): void;
  /** Chooses a model: the run in progress stops waiting and the result is cleared. */
  select(entry: ModelEntry): void;
  setText(text: string): void;
  setTable(text: string): void;
  setTarget(column: number): void;
  setClusters(k: number): void;
  setComponents(components: number): void;
  /** Reads a photo or picture for an image model (scaled for it). */
  choosePicture(file: Blob): Promise<void>;
  /** Runs the prepared input on this device. */
  runOnPhone(): Promise<void>;
  /** Signs and sends the prepared input to the network (queued when offline), then waits for its result. */
  runOnNetwork(): Promise<void>;
  /** Stops waiting; a task still pending on the relay is cancelled (and refunded). */
  cancel(): Promise<void>;
  /** Stops the run in progress and frees the picture. */
  stop(): void;
}

const EMPTY_INPUTS: RunInputs = {
  text: '',
  tableText: '',
  target: undefined,
  k: 2,
  components: 2,
  image: undefined,
  previewUrl: undefined,
  imageBusy: false,
};

/** Makes an idle session with no model chosen. */
export function createRunSession(init: RunSessionInit): RunSession {
  const { models, tasks } = init;
  const now = init.now ?? (() => performance.now());
  const progressIntervalMs = init.progressIntervalMs ?? 150;
  const readImage = init.readImage ?? imageToRaster;
  const objectUrls = init.objectUrls ?? {
    create: (blob) => URL.createObjectURL(blob),
    revoke: (url) => {
      URL.revokeObjectURL(url);
    },
  };
  const isHidden = init.isHidden ?? (() => document.visibilityState === 'hidden');
  const listeners = new Set<(state: RunSnapshot) => void>();
  let state: RunSnapshot = {
    entry: undefined,
    inputs: EMPTY_INPUTS,
    prepared: undefined,
    inputError: undefined,
    run: { kind: 'idle' },
  };
  let controller: AbortController | undefined;

  const set = (change: Partial<RunSnapshot>): void => {
    state = { ...state, ...change };
    for (const listener of listeners) listener(state);
  };

  /** The input changed: prepares it again (price, or what to fix). */
  const setInputs = (change: Partial<RunInputs>, extra: Partial<RunSnapshot> = {}): void => {
    const inputs = { ...state.inputs, ...change };
    set({ ...prepared(state.entry, inputs, state.inputError), ...extra, inputs });
  };

  const setPicture = (image: Raster<3> | undefined, file: Blob | undefined): Partial<RunInputs> => {
    if (state.inputs.previewUrl !== undefined) objectUrls.revoke(state.inputs.previewUrl);
    return { image, previewUrl: file ? objectUrls.create(file) : undefined };
  };

  /** A new run: the one in progress stops waiting. */
  const begin = (): AbortController => {
    controller?.abort();
    controller = new AbortController();
    return controller;
  };

  const session: RunSession = {
    get state() {
      return state;
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    offer(offered) {
      const chosen = state.entry;
      if (chosen === undefined) {
        const first = offered.find((m) => inputKindOf(m) !== 'unsupported') ?? offered[0];
        if (first !== undefined) session.select(first);
        return;
      }
      const fresh = offered.find((m) => m.id === chosen.id);
      if (fresh !== undefined && fresh !== chosen)
        set({ entry: fresh, ...prepared(fresh, state.inputs, state.inputError) });
    },

    select(entry) {
      controller?.abort();
      let change: Partial<RunInputs> = {};
      if (inputKindOf(entry) === 'table') change = { tableText: EXAMPLE_TABLES[entry.pre] ?? '', target: undefined };
      if (inputKindOf(entry) === 'image') change = setPicture(undefined, undefined);
      const inputs = { ...state.inputs, ...change };
      set({ entry, inputs, run: { kind: 'idle' }, ...prepared(entry, inputs, state.inputError) });
    },

    setText(text) {
      setInputs({ text });
    },
    setTable(tableText) {
      setInputs({ tableText });
    },
    setTarget(target) {
      setInputs({ target });
    },
    setClusters(k) {
      setInputs({ k });
    },
    setComponents(components) {
      setInputs({ components });
    },

    async choosePicture(file) {
      const entry = state.entry;
      if (!entry) return;
      setInputs({ imageBusy: true });
      try {
        const image = await readImage(file, imageMaxSide(entry));
        setInputs({ ...setPicture(image, file), imageBusy: false });
      } catch (error) {
        const inputs = { ...state.inputs, ...setPicture(undefined, undefined), imageBusy: false };
        set({ inputs, prepared: undefined, inputError: errorText(error).message });
      }
    },

    async runOnPhone() {
      const { entry, prepared: input } = state;
      if (!entry || !input) return;
      const { signal } = begin();
      const names = tableNames(entry, state.inputs);
      set({ run: { kind: 'local', download: undefined, phase: 'loading' } });
      let shownAt = Number.NEGATIVE_INFINITY;
      try {
        const result = await models.runLocally(entry, input.bytes, {
          signal,
          onDownloadProgress: (download) => {
            // Downloads report every chunk; a few repaints a second are enough for a progress bar.
            const at = now();
            const finished = download.loaded >= download.total;
            if (!finished && at - shownAt < progressIntervalMs) return;
            shownAt = at;
            set({ run: { kind: 'local', download, phase: finished ? 'running' : 'loading' } });
          },
        });
        set({
          run: {
            kind: 'done',
            where: 'phone',
            view: outputViewOf(entry, result.output, names),
            backend: result.backend === 'webgpu' ? 'WebGPU' : 'WASM',
            ms: result.ms,
            taskId: undefined,
            via: undefined,
            remoteAddr: undefined,
          },
        });
      } catch (error) {
        if (signal.aborted) return;
        set({ run: { kind: 'failed', error: errorText(error) } });
      }
    },

    async runOnNetwork() {
      const { entry, prepared: input } = state;
      if (!entry || !input) return;
      const { signal } = begin();
      const names = tableNames(entry, state.inputs);
      set({ run: { kind: 'network', phase: 'sending', taskId: undefined } });
      try {
        const outcome = await tasks.submit(entry, input, { signal });
        if (outcome.kind === 'queued') {
          set({ run: { kind: 'queued', taskId: outcome.taskId } });
          return;
        }
        const taskId = outcome.task.id;
        set({ run: { kind: 'network', phase: 'waiting', taskId } });
        // A direct run's own result says which way it went; otherwise the relay runs it brokered.
        const result =
          outcome.direct === undefined
            ? { ...(await tasks.waitForResult(taskId, { signal })), via: 'relay' as const, remoteAddr: undefined }
            : await untilAborted(outcome.direct, signal);
        set({
          run: {
            kind: 'done',
            where: 'network',
            view: outputViewOf(entry, result.output, names),
            backend: undefined,
            ms: result.task.finishedAt === undefined ? undefined : result.task.finishedAt - result.task.submittedAt,
            taskId,
            via: result.via,
            remoteAddr: result.remoteAddr,
          },
        });
        if (isHidden()) void tasks.notifyResult(taskId);
      } catch (error) {
        if (signal.aborted) return;
        set({ run: { kind: 'failed', error: errorText(error) } });
      }
    },

    async cancel() {
      const run = state.run;
      controller?.abort();
      set({ run: { kind: 'idle' } });
      if (run.kind === 'network' && run.taskId !== undefined) {
        try {
          await tasks.cancel(run.taskId);
        } catch (error) {
          set({ run: { kind: 'failed', error: errorText(error) } });
        }
      }
    },

    stop() {
      controller?.abort();
      if (state.inputs.previewUrl !== undefined) objectUrls.revoke(state.inputs.previewUrl);
      listeners.clear();
    },
  };
  return session;
}

/** The input prepared for `entry`, or what to fix in it (the last error stays while no model is chosen). */
function prepared(
  entry: ModelEntry | undefined,
  inputs: RunInputs,
  lastError: string | undefined,
): Pick<RunSnapshot, 'prepared' | 'inputError'> {
  if (!entry) return { prepared: undefined, inputError: lastError };
  const input = userInput(entry, inputs);
  if (typeof input === 'string') return { prepared: undefined, inputError: input };
  try {
    return { prepared: prepareInput(entry, input), inputError: undefined };
  } catch (error) {
    return { prepared: undefined, inputError: errorText(error).message };
  }
}

/** The user's input for `entry`, or an error saying what to fix. */
export function userInput(entry: ModelEntry, inputs: RunInputs): UserInput | string {
  switch (inputKindOf(entry)) {
    case 'text':
      return inputs.text.trim() === '' ? 'Type or paste some text.' : { kind: 'text', text: inputs.text };
    case 'image':
      return inputs.image ? { kind: 'image', image: inputs.image } : 'Take a photo or choose a picture.';
    case 'table': {
      try {
        const { columns, rows } = parseTable(inputs.tableText);
        const width = rows[0]?.length ?? 0;
        const names = columns?.length === width ? columns : undefined;
        const table =
          entry.pre === 'linear-regression'
            ? { rows, ...(names ? { columns: names } : {}), target: inputs.target ?? width - 1 }
            : entry.pre === 'kmeans'
              ? { rows, ...(names ? { columns: names } : {}), k: inputs.k }
              : { rows, ...(names ? { columns: names } : {}), components: Math.min(inputs.components, width) };
        return { kind: 'table', table };
      } catch (error) {
        return errorText(error).message;
      }
    }
    case 'unsupported':
      return 'This model takes raw tensors: use the SDK or the command line to run it.';
  }
}

/** A table's column names and predicted column, for the result's wording. */
function tableNames(
  entry: ModelEntry,
  inputs: RunInputs,
): { columns: readonly string[] | undefined; target: number | undefined } {
  const input = userInput(entry, inputs);
  if (typeof input !== 'object' || input.kind !== 'table') return { columns: undefined, target: undefined };
  return { columns: input.table.columns, target: input.table.target };
}

/** `promise`, or the signal's reason once it aborts (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}
