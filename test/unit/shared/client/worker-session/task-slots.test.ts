import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TaskSlotsBusyError } from '#client/worker-session/errors.ts';
import { createTaskSlots } from '#client/worker-session/task-slots.ts';

/** A task that runs until `finish` is called. */
function held(): { readonly task: () => Promise<void>; readonly finish: () => void } {
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return { task: () => done, finish };
}

/** A task that takes `ms` of (fake) time. */
const lasting = (ms: number) => (): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('task slots (both desktop workers admit tasks through them)', () => {
  // The slots time their rests and waits with setTimeout, Date and performance: all fake here, so no test sleeps.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs at most `concurrency` at once and admits a waiting task when one ends', async () => {
    const slots = createTaskSlots({ concurrency: 1, dutyCycle: 1 });
    const first = held();
    const running = slots.run(first.task);
    let secondRan = false;
    const second = slots.run(() => {
      secondRan = true;
      return Promise.resolve('second');
    });
    await vi.advanceTimersByTimeAsync(10);
    expect({ ...slots.stats(), running: slots.running, secondRan }).toEqual({
      running: 1,
      resting: 0,
      waiting: 1,
      secondRan: false,
    });
    first.finish();
    await running;
    await expect(second).resolves.toBe('second');
    expect(slots.stats()).toEqual({ running: 0, resting: 0, waiting: 0 });
  });

  it('refuses with a typed busy error after the wait, or with the error the worker asks for', async () => {
    const slots = createTaskSlots({ concurrency: 1, dutyCycle: 1, maxWaitMs: 30 });
    const first = held();
    const running = slots.run(first.task);
    const refused = slots.run(() => Promise.resolve());
    const refusal = expect(refused).rejects.toBeInstanceOf(TaskSlotsBusyError);
    await vi.advanceTimersByTimeAsync(30);
    await refusal;
    await expect(refused).rejects.toMatchObject({ name: 'TaskSlotsBusyError', code: 'busy' });

    class OwnBusy extends Error {
      readonly code = 'own-busy';
    }
    const own = createTaskSlots({ concurrency: 1, dutyCycle: 1, maxWaitMs: 30, busyError: (m) => new OwnBusy(m) });
    const ownFirst = held();
    const ownRunning = own.run(ownFirst.task);
    const ownRefusal = expect(own.run(() => Promise.resolve())).rejects.toMatchObject({ code: 'own-busy' });
    await vi.advanceTimersByTimeAsync(30);
    await ownRefusal;
    first.finish();
    ownFirst.finish();
    await Promise.all([running, ownRunning]);
  });

  it('admits waiting tasks at once when resized larger', async () => {
    const slots = createTaskSlots({ concurrency: 1, dutyCycle: 1 });
    const first = held();
    const running = slots.run(first.task);
    const second = slots.run(() => Promise.resolve(2));
    slots.resize({ concurrency: 2, dutyCycle: 1 });
    await expect(second).resolves.toBe(2);
    first.finish();
    await running;
    expect(() => {
      slots.resize({ concurrency: 0, dutyCycle: 1 });
    }).toThrow(RangeError);
    expect(() => {
      slots.resize({ concurrency: 1, dutyCycle: 0 });
    }).toThrow(RangeError);
  });

  it('rests a slot after a task to keep the duty cycle, refusing at once when the rest outlasts the wait', async () => {
    // A 1% share: a task of 20 ms leaves its slot resting ~2 s, longer than the 100 ms wait.
    const slots = createTaskSlots({ concurrency: 1, dutyCycle: 0.01, maxWaitMs: 100 });
    const task = slots.run(lasting(20));
    await vi.advanceTimersByTimeAsync(20);
    await task;
    expect(slots.stats().resting).toBe(1);
    // Refused with no time passing at all: no timer had to fire.
    await expect(slots.run(() => Promise.resolve())).rejects.toMatchObject({ code: 'busy' });
    slots.close(new Error('done'));
    expect(slots.stats().resting).toBe(0);
  });

  it('frees the slot after a short rest', async () => {
    // Half the time: a 20 ms task rests its slot 20 ms, shorter than the wait.
    const slots = createTaskSlots({ concurrency: 1, dutyCycle: 0.5, maxWaitMs: 2000 });
    const task = slots.run(lasting(20));
    await vi.advanceTimersByTimeAsync(20);
    await task;
    expect(slots.stats().resting).toBe(1);
    const next = slots.run(() => Promise.resolve('next'));
    await vi.advanceTimersByTimeAsync(20);
    await expect(next).resolves.toBe('next');
    expect(slots.stats()).toEqual({ running: 0, resting: 0, waiting: 0 });
  });

  it('gives up waiting when the signal aborts, and refuses everything once closed', async () => {
    const slots = createTaskSlots({ concurrency: 1, dutyCycle: 1 });
    const first = held();
    const running = slots.run(first.task);
    const controller = new AbortController();
    const aborted = slots.run(() => Promise.resolve(), { signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    expect(slots.stats().waiting).toBe(0);

    const waiting = slots.run(() => Promise.resolve());
    const reason = new Error('stopping');
    slots.close(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(slots.run(() => Promise.resolve())).rejects.toBe(reason);
    // A running task is never cut short.
    first.finish();
    await running;
  });
});
