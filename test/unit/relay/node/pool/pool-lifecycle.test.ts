/**
 * The inference pool's life cycle: never more than `concurrentTasks` tasks at
 * once, live resizing without losing running tasks, a bounded queue, aborts,
 * workers that die and are replaced, and stopping. Tasks are held in their
 * worker until the test releases them (test/support/pool-test-worker.ts), so
 * nothing here depends on how fast the machine is.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readCatalogue } from '#node/models/catalogue-store.ts';
import { PoolBusyError, PoolNotRunningError, WorkerCrashedError } from '#node/pool/errors.ts';
import {
  createInferencePool,
  type InferencePool,
  type InferencePoolInit,
  type InferenceResult,
} from '#node/pool/inference-pool.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { languageIdPipeline } from '#core/pipelines/language-id/index.ts';
import { createHoldControl, POOL_TEST_WORKER, type HoldControl } from '#test/pool-hold-control.ts';

const MODELS_DIR = 'dist/models';
const MEMORY = 64 << 20;
let catalogue: Catalogue;
let model: ModelEntry;
let control: HoldControl;
let pool: InferencePool | undefined;

const text = (value: string): Uint8Array => languageIdPipeline.encodeInput(value);
/** A task held in its worker as `name` until released. */
const held = (name: string): Uint8Array => text(`#hold ${name} Guten Morgen, wie geht es dir heute?`);
const plain = text('Good morning, how are you today?');

async function startPool(init: Partial<InferencePoolInit> = {}): Promise<InferencePool> {
  pool = createInferencePool({
    modelsDir: MODELS_DIR,
    catalogue: () => Promise.resolve(catalogue),
    workerScript: POOL_TEST_WORKER,
    limits: { threads: 1, concurrentTasks: 1, memoryBytes: MEMORY },
    ...init,
  });
  await pool.start();
  return pool;
}

const run = (input: Uint8Array, signal?: AbortSignal): Promise<InferenceResult> => {
  if (!pool) throw new Error('no pool');
  return pool.run(model.id, input, signal ? { signal } : {});
};

const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );

const labelOf = (result: InferenceResult): string | undefined => {
  const decoded = languageIdPipeline.decodeOutput(result.output);
  return decoded.ok ? decoded.value.label : undefined;
};

beforeAll(async () => {
  catalogue = await readCatalogue(MODELS_DIR);
  const entry = catalogue.models.find((m) => m.kind === 'language-id');
  if (!entry) throw new Error(`no language-id model in ${MODELS_DIR}`);
  model = entry;
});

beforeEach(() => {
  control = createHoldControl();
});

afterEach(async () => {
  for (const name of control.held()) control.release(name);
  await pool?.stop({ signal: AbortSignal.abort() });
  pool = undefined;
  control.close();
});

describe('inference pool concurrency', () => {
  it('never runs more than concurrentTasks tasks at once', async () => {
    const running = await startPool({ limits: { threads: 1, concurrentTasks: 2, memoryBytes: MEMORY } });
    const names = ['c0', 'c1', 'c2', 'c3', 'c4'];
    const results = names.map((name) => run(held(name)));

    await Promise.all([control.waitHeld('c0'), control.waitHeld('c1')]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(control.held().sort()).toEqual(['c0', 'c1']);
    expect(running.stats()).toMatchObject({ busy: 2, queued: 3, workers: 2 });

    for (const [i, name] of names.entries()) {
      control.release(name);
      const next = names[i + 2];
      if (next) await control.waitHeld(next);
    }
    for (const result of await Promise.all(results)) expect(labelOf(result)).toBe('deu');
    expect(control.peak).toBe(2);
    expect(running.stats()).toMatchObject({ peakBusy: 2, completed: 5, busy: 0, queued: 0 });
  });

  it('refuses a task with PoolBusyError when the queue is full', async () => {
    const running = await startPool({ maxQueued: 2 });
    const first = run(held('q0'));
    await control.waitHeld('q0');
    const queued = [run(plain), run(plain)];
    const error = await rejection(run(plain));
    expect(error).toBeInstanceOf(PoolBusyError);
    expect(error).toMatchObject({ name: 'PoolBusyError', code: 'pool-busy' });
    expect(running.stats()).toMatchObject({ queued: 2, refused: 1 });

    control.release('q0');
    await Promise.all([first, ...queued]);
    expect(running.stats()).toMatchObject({ completed: 3, queued: 0 });
  });
});

describe('inference pool resizing', () => {
  it('gives new tasks the new threads and workers while a running task finishes', async () => {
    const running = await startPool();
    const first = run(held('r0'));
    await control.waitHeld('r0');

    running.resize({ threads: 2, concurrentTasks: 2, memoryBytes: MEMORY });
    // The old worker still runs r0 and counts against the new limit of two.
    const second = await run(plain);
    expect(second.threads).toBe(2);
    expect(control.held()).toEqual(['r0']);
    expect(running.stats()).toMatchObject({ threads: 2, concurrentTasks: 2, workers: 2, busy: 1 });

    control.release('r0');
    const firstResult = await first;
    expect(firstResult.threads).toBe(1);
    expect(labelOf(firstResult)).toBe('deu');

    // Its worker is replaced by one of two threads: two tasks now run at once on two-thread sessions.
    await vi.waitFor(() => {
      expect(running.stats()).toMatchObject({ workers: 2, busy: 0 });
    });
    const pair = [run(held('r1')), run(held('r2'))];
    await Promise.all([control.waitHeld('r1'), control.waitHeld('r2')]);
    control.release('r1');
    control.release('r2');
    expect((await Promise.all(pair)).map((r) => r.threads)).toEqual([2, 2]);
    expect(running.stats()).toMatchObject({ crashed: 0, failed: 0, completed: 4 });
  });

  it('keeps a running task on its old worker within the limit when concurrency stays at one', async () => {
    const running = await startPool();
    const first = run(held('s0'));
    await control.waitHeld('s0');

    running.resize({ threads: 2, concurrentTasks: 1, memoryBytes: MEMORY });
    const second = run(plain);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(running.stats()).toMatchObject({ busy: 1, queued: 1, workers: 1 });

    control.release('s0');
    expect((await first).threads).toBe(1);
    expect((await second).threads).toBe(2);
    expect(running.stats().peakBusy).toBe(1);
  });

  it('rejects limits that make no sense', async () => {
    const running = await startPool();
    expect(() => {
      running.resize({ threads: 0, concurrentTasks: 1, memoryBytes: MEMORY });
    }).toThrow(RangeError);
    expect(running.stats().threads).toBe(1);
  });
});

describe('inference pool aborts', () => {
  it('drops a waiting task when its signal aborts', async () => {
    const running = await startPool();
    const first = run(held('a0'));
    await control.waitHeld('a0');
    const controller = new AbortController();
    const waiting = run(held('a1'), controller.signal);
    await vi.waitFor(() => {
      expect(running.stats().queued).toBe(1);
    });

    controller.abort();
    expect(await rejection(waiting)).toMatchObject({ name: 'AbortError' });
    expect(running.stats()).toMatchObject({ queued: 0, aborted: 1 });

    control.release('a0');
    await first;
    await run(plain);
    expect(control.wasHeld('a1')).toBe(false);
    expect(running.stats()).toMatchObject({ completed: 2, aborted: 1 });
  });

  it('answers a running task at once and discards what its worker says later', async () => {
    const running = await startPool();
    const controller = new AbortController();
    const task = run(held('b0'), controller.signal);
    await control.waitHeld('b0');

    controller.abort();
    expect(await rejection(task)).toMatchObject({ name: 'AbortError' });
    // The worker is still busy with it, and counts as busy.
    expect(running.stats()).toMatchObject({ busy: 1, aborted: 1 });

    control.release('b0');
    await vi.waitFor(() => {
      expect(running.stats().busy).toBe(0);
    });
    expect(running.stats()).toMatchObject({ completed: 0, failed: 0, aborted: 1 });
    expect(labelOf(await run(plain))).toBe('eng');
  });

  it('refuses a task whose signal is already aborted', async () => {
    const running = await startPool();
    const error = await rejection(run(plain, AbortSignal.abort()));
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(running.stats()).toMatchObject({ queued: 0, busy: 0, completed: 0 });
  });
});

describe('inference pool crashes', () => {
  it.each(['#crash', '#exit'])('fails only the task whose worker died (%s) and replaces the worker', async (how) => {
    const running = await startPool({ limits: { threads: 1, concurrentTasks: 2, memoryBytes: MEMORY } });
    const survivor = run(held('k0'));
    await control.waitHeld('k0');

    const error = await rejection(run(text(how)));
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect(error).toMatchObject({ name: 'WorkerCrashedError', code: 'worker-crashed' });
    await vi.waitFor(() => {
      expect(running.stats()).toMatchObject({ workers: 2, crashed: 1 });
    });

    control.release('k0');
    expect(labelOf(await survivor)).toBe('deu');
    expect(labelOf(await run(plain))).toBe('eng');
    expect(running.stats()).toMatchObject({ completed: 2, failed: 1, crashed: 1 });
  });

  it('runs the tasks queued behind a crash on the replacement worker', async () => {
    const running = await startPool();
    const crash = rejection(run(text('#crash')));
    const behind = [run(plain), run(plain)];
    expect(await crash).toBeInstanceOf(WorkerCrashedError);
    for (const result of await Promise.all(behind)) expect(labelOf(result)).toBe('eng');
    expect(running.stats()).toMatchObject({ completed: 2, failed: 1, crashed: 1, workers: 1 });
  });

  it('fails to start when its workers cannot start', async () => {
    const broken = new URL('data:text/javascript,throw new Error("broken worker")');
    const error = await rejection(startPool({ workerScript: broken }));
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect(pool?.stats()).toMatchObject({ state: 'stopped', workers: 0 });
  });
});

describe('inference pool stop', () => {
  it('lets running tasks finish, fails waiting ones and refuses new ones', async () => {
    const running = await startPool();
    const first = run(held('t0'));
    await control.waitHeld('t0');
    const waiting = run(plain);
    await vi.waitFor(() => {
      expect(running.stats().queued).toBe(1);
    });

    const stopped = running.stop();
    expect(await rejection(waiting)).toBeInstanceOf(PoolNotRunningError);
    expect(await rejection(run(plain))).toMatchObject({ name: 'PoolNotRunningError', code: 'not-running' });
    control.release('t0');
    expect(labelOf(await first)).toBe('deu');
    await stopped;
    expect(running.stats()).toMatchObject({ state: 'stopped', workers: 0, busy: 0 });
  });

  it('ends running tasks when its signal aborts', async () => {
    const running = await startPool();
    const first = run(held('u0'));
    await control.waitHeld('u0');
    const controller = new AbortController();
    const stopped = running.stop({ signal: controller.signal });
    controller.abort();
    expect(await rejection(first)).toBeInstanceOf(PoolNotRunningError);
    await stopped;
    expect(running.stats()).toMatchObject({ state: 'stopped', workers: 0, busy: 0 });
  });
});
