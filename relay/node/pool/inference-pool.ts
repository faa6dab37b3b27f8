/**
 * The relay's own inference pool: heavy tasks run here, on onnxruntime-node
 * (native CPU) in worker threads, so the relay's event loop never blocks on a
 * model. `concurrentTasks` workers each run one task at a time with sessions
 * of `threads` intra-op threads; tasks wait in a bounded queue. `resize`
 * changes the limits while the relay runs: workers whose thread count no
 * longer fits finish their task and are replaced, so running tasks are never
 * lost and never more than `concurrentTasks` run at once.
 *
 * A worker that dies (an uncaught error, an exit) fails only the task it ran
 * and is replaced. A crash of onnxruntime's native code takes the whole
 * process with it; worker threads cannot contain that.
 */
import { Worker } from 'node:worker_threads';
import { decodeCanonical } from '#core/encoding/canonical.ts';
import { stopProofOf } from '#core/generation/stop-request.ts';
import type { Hash, ModelId } from '#core/identity/ids.ts';
import type { Catalogue } from '#core/models/catalogue.ts';
import type { ClaimVerdict } from '#core/models/pipeline.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { ResourceLimits } from '#core/resources/allocation.ts';
import { readRelayCatalogue } from '../models/catalogue-store.ts';
import { rebuildError } from './error-transfer.ts';
import {
  InferenceFailedError,
  PoolBusyError,
  PoolNotRunningError,
  UnknownModelError,
  WorkerCrashedError,
} from './errors.ts';
import type { CachedModelData, FromWorker, PoolTaskModel, PoolWorkerSetup, ToWorker } from './pool-messages.ts';

/** The part of a device's {@link ResourceLimits} the pool enforces. */
export type InferencePoolLimits = Pick<ResourceLimits, 'threads' | 'concurrentTasks' | 'memoryBytes'>;

/** Where the pool reports worker crashes and resizes: the relay's pino logger fits. */
export interface InferencePoolLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** Limits of a pool created without any: one worker of one thread, 256 MiB of sessions. */
export const DEFAULT_POOL_LIMITS: InferencePoolLimits = {
  threads: 1,
  concurrentTasks: 1,
  memoryBytes: 256 * 1024 * 1024,
};
/** Tasks that may wait for a worker before {@link PoolBusyError}. */
export const DEFAULT_MAX_QUEUED = 64;
/** A cached model's memory is estimated as its files' bytes times this. */
export const DEFAULT_MEMORY_FACTOR = 2;
/** How long `stop()` lets running tasks finish. */
export const DEFAULT_STOP_GRACE_MS = 5000;
/** The longest wait before starting a worker again after workers failed to start. */
const MAX_RESPAWN_DELAY_MS = 10_000;

export interface InferencePoolInit {
  /** Directory of the content-addressed model files `<sha256>` (the relay's `<dataDir>/models`). */
  readonly modelsDir: string;
  /**
   * The models the pool may run, asked on every task. Default: the relay
   * catalogue in `modelsDir` (`readRelayCatalogue`), so models an operator
   * adds are found at once; pass a cached one to save the two file reads.
   */
  readonly catalogue?: () => Promise<Catalogue>;
  /** Default {@link DEFAULT_POOL_LIMITS}. */
  readonly limits?: InferencePoolLimits;
  /** Tasks that may wait for a worker; one more is refused with {@link PoolBusyError}. Default {@link DEFAULT_MAX_QUEUED}. */
  readonly maxQueued?: number;
  /** Estimated memory of a cached model per byte of its files. Default {@link DEFAULT_MEMORY_FACTOR}. */
  readonly memoryFactor?: number;
  /** How long `stop()` lets running tasks finish before ending their threads. Default {@link DEFAULT_STOP_GRACE_MS}. */
  readonly stopGraceMs?: number;
  /** Default: silent. */
  readonly log?: InferencePoolLog;
  /**
   * The worker threads' script. Default pool-worker.ts beside this module;
   * tests pass a script that wraps it (to hold or crash a task).
   */
  readonly workerScript?: URL;
}

export interface RunTaskOptions {
  /**
   * Aborting drops a waiting task; a running one is answered at once with the
   * signal's reason (an `AbortError`) while its worker is told to stop and
   * whatever it still answers is discarded. A running generation aborted with
   * a `StopRequest` (the requester stopped it) is the exception: it ends with
   * what it made so far, and that is the result.
   */
  readonly signal?: AbortSignal;
  /** Text generation: each generated piece's text as it is made (see `PipelineRunOptions.onText`). */
  readonly onText?: ((index: number, text: string) => void) | undefined;
}

/** What the pool's check of a claimed output found, and how long it took. */
export interface CheckResult {
  readonly verdict: ClaimVerdict;
  readonly runMs: number;
}

export interface StopOptions {
  /** Aborting ends the threads of running tasks at once instead of waiting out the grace period. */
  readonly signal?: AbortSignal;
}

/** A task's result. */
export interface InferenceResult {
  /** The pipeline's canonical output bytes. */
  readonly output: Uint8Array;
  /** Their SHA-256: what a receipt signs. */
  readonly outputHash: Hash;
  /** Units of work, as the catalogue entry's price counts them. */
  readonly units: number;
  /** Time in the worker: decoding, loading the model if it was not cached, inference and encoding. */
  readonly runMs: number;
  readonly backend: 'native';
  /** Intra-op threads of the session that ran it. */
  readonly threads: number;
}

/** A model cached in the pool's workers. */
export interface CachedModelStats {
  readonly id: ModelId;
  /** How many workers hold a session of it. */
  readonly workers: number;
  /** Their estimated memory, summed over those workers. */
  readonly bytes: number;
}

export interface InferencePoolStats {
  readonly state: 'idle' | 'running' | 'stopping' | 'stopped';
  readonly threads: number;
  readonly concurrentTasks: number;
  readonly memoryBytes: number;
  /** Worker threads alive, including those finishing a task before a resize replaces them. */
  readonly workers: number;
  /** Workers running a task (one whose caller gave up counts until its worker answers). */
  readonly busy: number;
  /** The most workers ever busy at once. */
  readonly peakBusy: number;
  /** Tasks waiting for a worker. */
  readonly queued: number;
  /** Tasks answered with a result. */
  readonly completed: number;
  /** Tasks answered with an error (bad input, a crashed worker, the pool stopping...). */
  readonly failed: number;
  /** Tasks whose caller aborted. */
  readonly aborted: number;
  /** Tasks refused before they were queued: unknown model, full queue, pool not running. */
  readonly refused: number;
  /** Worker threads that died on their own. */
  readonly crashed: number;
  readonly models: readonly CachedModelStats[];
  /** Estimated memory of every cached model in every worker. */
  readonly cachedBytes: number;
}

export interface InferencePool {
  /**
   * Starts the workers and resolves once they are ready. Rejects with
   * {@link WorkerCrashedError} (and stops) if one cannot start; a pool starts
   * once, a second call rejects with {@link PoolNotRunningError}.
   */
  start(): Promise<void>;
  /**
   * Refuses new tasks, fails waiting ones with {@link PoolNotRunningError},
   * lets running ones finish (up to the grace period, or until `signal`
   * aborts; then they fail with {@link PoolNotRunningError} too) and ends
   * every thread.
   */
  stop(options?: StopOptions): Promise<void>;
  /**
   * Runs `input` (the task's input bytes) through model `modelId`. Rejects with
   * {@link UnknownModelError}, {@link PoolBusyError}, {@link PoolNotRunningError},
   * the pipeline's `InvalidModelInputError`, `ModelHashMismatchError` for a
   * tampered model file, {@link WorkerCrashedError}, `InferenceFailedError`,
   * or the signal's reason.
   */
  run(modelId: ModelId, input: Uint8Array, options?: RunTaskOptions): Promise<InferenceResult>;
  /**
   * Checks `claimed`, an untrusted output for `input`, with the pipeline's
   * own checker (text generation: one forced pass), cheaper than running it
   * again. Rejects like `run`, and with `UnknownModelError` for a model
   * whose pipeline has no checker.
   */
  check(modelId: ModelId, input: Uint8Array, claimed: Uint8Array, options?: RunTaskOptions): Promise<CheckResult>;
  /**
   * Applies new limits at once: new tasks get workers with the new thread
   * count; running tasks finish on their old workers, which count against
   * `concurrentTasks` until they do. Throws `RangeError` on invalid limits.
   */
  resize(limits: InferencePoolLimits): void;
  stats(): InferencePoolStats;
}

interface Task {
  readonly id: number;
  readonly model: PoolTaskModel;
  /** The pool's own copy of the input, handed to the worker when the task starts. */
  readonly input: Uint8Array;
  /** Set for a check: the claimed output. */
  readonly claim: Uint8Array | undefined;
  readonly onText: RunTaskOptions['onText'];
  readonly signal: AbortSignal | undefined;
  readonly resolve: (result: InferenceResult) => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
  settled: boolean;
  slot: Slot | undefined;
}

interface Slot {
  readonly worker: Worker;
  readonly threads: number;
  ready: boolean;
  /** Takes no new task; ends after the current one. */
  retiring: boolean;
  /** The pool is ending this thread, so its exit is no crash. */
  ending: boolean;
  task: Task | undefined;
  cache: readonly CachedModelData[];
  lastError: Error | undefined;
  /** Settles when the worker is ready; rejects if it exits first. */
  readonly whenReady: Promise<void>;
  readonly exited: Promise<void>;
}

function checkLimits(limits: InferencePoolLimits): InferencePoolLimits {
  const { threads, concurrentTasks, memoryBytes } = limits;
  if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number >= 1`);
  if (!Number.isSafeInteger(concurrentTasks) || concurrentTasks < 1) {
    throw new RangeError(`concurrentTasks must be a whole number >= 1`);
  }
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes < 0) throw new RangeError(`memoryBytes must be >= 0`);
  return { threads, concurrentTasks, memoryBytes };
}

const silent: InferencePoolLog = { info: () => undefined, warn: () => undefined };

/** Creates the relay's inference pool; nothing runs before `start()`. */
export function createInferencePool(init: InferencePoolInit): InferencePool {
  const { modelsDir } = init;
  const catalogue = init.catalogue ?? (() => readRelayCatalogue(modelsDir));
  const maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED;
  const memoryFactor = init.memoryFactor ?? DEFAULT_MEMORY_FACTOR;
  const stopGraceMs = init.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const log = init.log ?? silent;
  const workerScript = init.workerScript ?? new URL('./pool-worker.ts', import.meta.url);
  let limits = checkLimits(init.limits ?? DEFAULT_POOL_LIMITS);

  let state: InferencePoolStats['state'] = 'idle';
  let stopping: Promise<void> | undefined;
  const slots = new Set<Slot>();
  const queue: Task[] = [];
  let nextTaskId = 1;
  const counts = { completed: 0, failed: 0, aborted: 0, refused: 0, crashed: 0, peakBusy: 0 };
  /** Workers that died before they were ready, in a row: spawning again waits longer each time. */
  let startFailures = 0;
  let nextSpawnAt = 0;
  let respawnTimer: ReturnType<typeof setTimeout> | undefined;
  let onIdle: (() => void) | undefined;

  const live = (): Slot[] => [...slots].filter((slot) => !slot.ending);
  const busyCount = (): number => [...slots].filter((slot) => slot.task).length;
  const workerBudget = (): number => Math.floor(limits.memoryBytes / limits.concurrentTasks);

  function spawn(): Slot {
    const setup: PoolWorkerSetup = { modelsDir, threads: limits.threads, memoryBytes: workerBudget(), memoryFactor };
    const worker = new Worker(workerScript, { workerData: setup });
    let readyResolve: () => void = () => undefined;
    let readyReject: (error: Error) => void = () => undefined;
    let exitedResolve: () => void = () => undefined;
    const slot: Slot = {
      worker,
      threads: setup.threads,
      ready: false,
      retiring: false,
      ending: false,
      task: undefined,
      cache: [],
      lastError: undefined,
      whenReady: new Promise<void>((resolve, reject) => {
        readyResolve = resolve;
        readyReject = reject;
      }),
      exited: new Promise<void>((resolve) => {
        exitedResolve = resolve;
      }),
    };
    // Only start() awaits readiness; a later worker that fails to start is handled in onExit.
    slot.whenReady.catch(() => undefined);
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        slot.ready = true;
        startFailures = 0;
        readyResolve();
        reconcile();
        return;
      }
      onMessage(slot, message);
    });
    worker.on('error', (error) => {
      slot.lastError = error;
    });
    worker.on('exit', (code) => {
      readyReject(new WorkerCrashedError(`the worker thread exited with code ${code} before it was ready`));
      onExit(slot, code);
      exitedResolve();
    });
    slots.add(slot);
    return slot;
  }

  function post(slot: Slot, message: ToWorker, transfer: ArrayBuffer[] = []): void {
    slot.worker.postMessage(message, transfer);
  }

  /** Ends a worker's thread on purpose. */
  function end(slot: Slot): void {
    if (slot.ending) return;
    slot.ending = true;
    void slot.worker.terminate();
  }

  function retire(slot: Slot): void {
    slot.retiring = true;
    if (!slot.task) end(slot);
  }

  /** Brings the workers in line with the limits, then hands out waiting tasks. */
  function reconcile(): void {
    if (state !== 'running') return;
    for (const slot of live()) if (!slot.retiring && slot.threads !== limits.threads) retire(slot);
    const busyRetiring = live().filter((slot) => slot.retiring && slot.task).length;
    const active = live().filter((slot) => !slot.retiring);
    // Too many workers after a smaller resize: end idle ones; busy ones are ended when idle.
    let excess = active.length + busyRetiring - limits.concurrentTasks;
    for (const slot of active) {
      if (excess <= 0) break;
      if (slot.task) continue;
      retire(slot);
      excess--;
    }
    const wanted = limits.concurrentTasks - busyRetiring - live().filter((slot) => !slot.retiring).length;
    if (wanted > 0) {
      const wait = nextSpawnAt - Date.now();
      if (wait <= 0) {
        for (let i = 0; i < wanted; i++) spawn();
      } else {
        respawnTimer ??= setTimeout(() => {
          respawnTimer = undefined;
          reconcile();
        }, wait);
      }
    }
    dispatch();
  }

  function dispatch(): void {
    if (state !== 'running') return;
    for (const slot of live()) {
      if (!slot.ready || slot.retiring || slot.task) continue;
      const task = queue.shift();
      if (!task) return;
      slot.task = task;
      task.slot = slot;
      const claim = task.claim === undefined ? {} : { claim: task.claim };
      post(slot, { type: 'run', id: task.id, model: task.model, input: task.input, ...claim }, [
        task.input.buffer as ArrayBuffer,
      ]);
      counts.peakBusy = Math.max(counts.peakBusy, busyCount());
    }
  }

  function settle(task: Task): boolean {
    if (task.settled) return false;
    task.settled = true;
    task.signal?.removeEventListener('abort', task.onAbort);
    return true;
  }

  function fail(task: Task, error: Error): void {
    if (!settle(task)) return;
    counts.failed++;
    task.reject(error);
  }

  function onAbort(task: Task): void {
    if (task.settled) return;
    // A stopped generation is not dropped: its worker ends it and answers with what it made.
    const stop = stopProofOf(task.signal);
    if (stop !== undefined && task.slot) {
      post(task.slot, { type: 'abort', id: task.id, stop });
      return;
    }
    if (!settle(task)) return;
    counts.aborted++;
    if (task.slot) {
      post(task.slot, { type: 'abort', id: task.id });
    } else {
      const index = queue.indexOf(task);
      if (index >= 0) queue.splice(index, 1);
    }
    task.reject(task.signal?.reason);
  }

  function onMessage(slot: Slot, message: Exclude<FromWorker, { type: 'ready' }>): void {
    if (message.type === 'text') {
      if (slot.task?.id === message.id && !slot.task.settled) slot.task.onText?.(message.index, message.text);
      return;
    }
    slot.cache = message.cache;
    if (message.type === 'cache') return;
    const task = slot.task;
    if (task?.id !== message.id) return;
    slot.task = undefined;
    task.slot = undefined;
    if (message.type === 'done') {
      if (settle(task)) {
        counts.completed++;
        const { output, outputHash, units, runMs, threads } = message;
        task.resolve({ output, outputHash, units, runMs, threads, backend: 'native' });
      }
    } else {
      fail(task, rebuildError(message.error));
    }
    if (slot.retiring || state !== 'running') end(slot);
    afterTask();
  }

  function onExit(slot: Slot, code: number): void {
    slots.delete(slot);
    const task = slot.task;
    slot.task = undefined;
    if (!slot.ending) {
      counts.crashed++;
      const why = slot.lastError ? `: ${slot.lastError.name}: ${slot.lastError.message}` : '';
      log.warn({ code, threads: slot.threads, task: task?.id }, `inference worker died${why}`);
      if (!slot.ready) {
        startFailures++;
        nextSpawnAt = Date.now() + Math.min(MAX_RESPAWN_DELAY_MS, 100 * 2 ** (startFailures - 1));
      }
      if (task) fail(task, new WorkerCrashedError(`the worker thread running the task exited with code ${code}${why}`));
    } else if (task) {
      fail(task, new PoolNotRunningError('the pool stopped before the task finished'));
    }
    afterTask();
  }

  function afterTask(): void {
    reconcile();
    if (busyCount() === 0) onIdle?.();
  }

  async function start(): Promise<void> {
    if (state !== 'idle') throw new PoolNotRunningError(`the pool was started already (it is ${state})`);
    state = 'running';
    reconcile();
    try {
      await Promise.all(live().map((slot) => slot.whenReady));
    } catch (error) {
      await stop();
      throw error;
    }
    log.info({ ...limits }, 'inference pool started');
  }

  function stop(options: StopOptions = {}): Promise<void> {
    stopping ??= (async () => {
      if (state === 'idle') {
        state = 'stopped';
        return;
      }
      state = 'stopping';
      clearTimeout(respawnTimer);
      for (const task of queue.splice(0))
        fail(task, new PoolNotRunningError('the pool stopped before the task started'));
      for (const slot of live()) if (!slot.task) end(slot);
      if (busyCount() > 0) {
        const deadline = AbortSignal.any([
          AbortSignal.timeout(stopGraceMs),
          ...(options.signal ? [options.signal] : []),
        ]);
        await new Promise<void>((resolve) => {
          onIdle = resolve;
          if (deadline.aborted) resolve();
          deadline.addEventListener('abort', () => {
            resolve();
          });
        });
        onIdle = undefined;
      }
      for (const slot of live()) end(slot);
      await Promise.all([...slots].map((slot) => slot.exited));
      state = 'stopped';
      log.info({ ...counts }, 'inference pool stopped');
    })();
    return stopping;
  }

  async function run(modelId: ModelId, input: Uint8Array, options: RunTaskOptions = {}): Promise<InferenceResult> {
    return submit(modelId, input, undefined, options);
  }

  async function check(
    modelId: ModelId,
    input: Uint8Array,
    claimed: Uint8Array,
    options: RunTaskOptions = {},
  ): Promise<CheckResult> {
    const result = await submit(modelId, input, claimed.slice(), options);
    const decoded = decodeCanonical(result.output);
    const verdict = decoded.ok ? (decoded.value as ClaimVerdict) : undefined;
    if (verdict === undefined || typeof verdict.ok !== 'boolean') {
      throw new InferenceFailedError('the pool worker answered a check with no verdict');
    }
    return { verdict, runMs: result.runMs };
  }

  async function submit(
    modelId: ModelId,
    input: Uint8Array,
    claim: Uint8Array | undefined,
    options: RunTaskOptions,
  ): Promise<InferenceResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const refuse = (error: Error): never => {
      counts.refused++;
      throw error;
    };
    if (state !== 'running') refuse(new PoolNotRunningError(`the pool is ${state}`));
    const models = await catalogue();
    signal?.throwIfAborted();
    if (state !== 'running') refuse(new PoolNotRunningError(`the pool is ${state}`));
    const entry = models.models.find((m) => m.id === modelId);
    if (!entry) return refuse(new UnknownModelError(`model ${modelId} is not in the catalogue`));
    if (!pipelineFor(entry.pre) || entry.post !== entry.pre) {
      refuse(new UnknownModelError(`model ${modelId} needs pipeline ${entry.pre}, which this relay does not have`));
    }
    if (queue.length >= maxQueued) refuse(new PoolBusyError(`${queue.length} tasks are waiting already`));

    return new Promise<InferenceResult>((resolve, reject) => {
      const task: Task = {
        id: nextTaskId++,
        model: { id: entry.id, pipeline: entry.pre, assets: entry.assets, textGeneration: entry.textGeneration },
        // A copy of exactly these bytes: the caller's buffer stays theirs and the copy is moved to the worker.
        input: input.slice(),
        claim,
        onText: options.onText,
        signal,
        resolve,
        reject,
        onAbort: () => {
          onAbort(task);
        },
        settled: false,
        slot: undefined,
      };
      signal?.addEventListener('abort', task.onAbort, { once: true });
      queue.push(task);
      dispatch();
    });
  }

  function resize(next: InferencePoolLimits): void {
    const before = workerBudget();
    limits = checkLimits(next);
    if (workerBudget() !== before) {
      for (const slot of live()) {
        if (!slot.retiring && slot.threads === limits.threads)
          post(slot, { type: 'memory', memoryBytes: workerBudget() });
      }
    }
    log.info({ ...limits }, 'inference pool resized');
    reconcile();
  }

  function stats(): InferencePoolStats {
    const models = new Map<ModelId, { workers: number; bytes: number }>();
    for (const slot of slots) {
      for (const cached of slot.cache) {
        const entry = models.get(cached.id) ?? { workers: 0, bytes: 0 };
        models.set(cached.id, { workers: entry.workers + 1, bytes: entry.bytes + cached.bytes });
      }
    }
    const list = [...models].map(([id, entry]) => ({ id, ...entry }));
    return {
      state,
      ...limits,
      workers: live().length,
      busy: busyCount(),
      queued: queue.length,
      ...counts,
      models: list,
      cachedBytes: list.reduce((sum, entry) => sum + entry.bytes, 0),
    };
  }

  return { start, stop, run, check, resize, stats };
}
