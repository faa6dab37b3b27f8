/**
 * Admission of tasks into a desktop worker (Node or browser): at most
 * `concurrency` at once, and a CPU share below one core's worth kept by
 * resting. `limitsFor` turns such a share into a duty cycle below 1; after a
 * task kept a slot busy for `t` ms, the slot rests `t * (1 / dutyCycle - 1)` ms
 * (at most `maxRestMs`) before it takes the next one, so over time the slot is
 * busy `dutyCycle` of the wall time.
 *
 * A task that finds every slot taken waits up to `maxWaitMs` (the relay gives
 * a worker 15 s in all), then is refused as busy, so the relay can run it
 * elsewhere at once rather than time out.
 */
import { TaskSlotsBusyError } from './errors.ts';

export interface TaskSlotLimits {
  /** Tasks at once, at least 1. */
  readonly concurrency: number;
  /** Share of wall time a slot may be busy, above 0 and at most 1. */
  readonly dutyCycle: number;
}

export interface TaskSlotsInit extends TaskSlotLimits {
  /** Longest wait for a slot. Default 5000 ms. */
  readonly maxWaitMs?: number;
  /** Longest rest after one task, however long it ran. Default 60 s. */
  readonly maxRestMs?: number;
  /** The refusal of a task that found no slot in time. Default a {@link TaskSlotsBusyError} (`busy`). */
  readonly busyError?: (message: string) => Error;
}

export interface TaskSlotsStats {
  readonly running: number;
  readonly resting: number;
  readonly waiting: number;
}

export interface TaskSlots {
  /**
   * Runs `task` in a slot once one is free. Rejects with the busy error when
   * none frees within the wait, or with the signal's reason.
   */
  run<T>(task: () => Promise<T>, options?: { readonly signal?: AbortSignal }): Promise<T>;
  /** New limits, at once: a larger concurrency admits waiting tasks now; running ones are never cut short. */
  resize(limits: TaskSlotLimits): void;
  /** Tasks running now. */
  readonly running: number;
  stats(): TaskSlotsStats;
  /** Refuses waiting and new tasks with `reason`; running ones finish. Clears rest timers. */
  close(reason: Error): void;
}

interface Waiter {
  readonly admit: () => void;
  readonly refuse: (error: Error) => void;
}

export function createTaskSlots(init: TaskSlotsInit): TaskSlots {
  let limits = checked(init);
  const maxWaitMs = init.maxWaitMs ?? 5000;
  const maxRestMs = init.maxRestMs ?? 60_000;
  const busyError = init.busyError ?? ((message: string) => new TaskSlotsBusyError(message));
  let running = 0;
  /** Rest timers and when each ends. */
  const rests = new Map<ReturnType<typeof setTimeout>, number>();
  const waiting: Waiter[] = [];
  let closed: Error | undefined;

  const free = (): boolean => running + rests.size < limits.concurrency;

  function admitWaiting(): void {
    while (waiting.length > 0 && free()) waiting.shift()?.admit();
  }

  function release(busyMs: number): void {
    running--;
    const restMs = Math.min(maxRestMs, busyMs * (1 / limits.dutyCycle - 1));
    if (restMs >= 1 && closed === undefined) {
      const timer = setTimeout(() => {
        rests.delete(timer);
        admitWaiting();
      }, restMs);
      unref(timer);
      rests.set(timer, Date.now() + restMs);
    }
    admitWaiting();
  }

  async function acquire(signal: AbortSignal | undefined): Promise<void> {
    if (closed) throw closed;
    signal?.throwIfAborted();
    if (waiting.length === 0 && free()) {
      running++;
      return;
    }
    // Every slot resting past the wait, none running: say so now rather than after the wait.
    if (running === 0 && rests.size > 0 && Math.min(...rests.values()) - Date.now() > maxWaitMs) {
      throw busyError(`resting to keep the CPU share; the next slot frees after ${maxWaitMs} ms`);
    }
    await new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => {
        done();
        reject(busyError(`all ${limits.concurrency} task slots stayed busy for ${maxWaitMs} ms`));
      }, maxWaitMs);
      const onAbort = (): void => {
        done();
        reject(signal?.reason as Error);
      };
      const waiter: Waiter = {
        admit: () => {
          done();
          running++;
          resolve();
        },
        refuse: (error) => {
          done();
          reject(error);
        },
      };
      function done(): void {
        clearTimeout(timeout);
        signal?.removeEventListener('abort', onAbort);
        const index = waiting.indexOf(waiter);
        if (index >= 0) waiting.splice(index, 1);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(waiter);
    });
  }

  return {
    async run(task, options = {}) {
      await acquire(options.signal);
      const started = performance.now();
      try {
        return await task();
      } finally {
        release(performance.now() - started);
      }
    },
    resize(next) {
      limits = checked(next);
      admitWaiting();
    },
    get running() {
      return running;
    },
    stats: () => ({ running, resting: rests.size, waiting: waiting.length }),
    close(reason) {
      closed = reason;
      for (const timer of rests.keys()) clearTimeout(timer);
      rests.clear();
      for (const waiter of waiting.splice(0)) waiter.refuse(reason);
    },
  };
}

function checked(limits: TaskSlotLimits): TaskSlotLimits {
  if (!Number.isSafeInteger(limits.concurrency) || limits.concurrency < 1) {
    throw new RangeError('concurrency must be a whole number >= 1');
  }
  if (!(limits.dutyCycle > 0 && limits.dutyCycle <= 1)) throw new RangeError('dutyCycle must be in (0, 1]');
  return { concurrency: limits.concurrency, dutyCycle: limits.dutyCycle };
}

/**
 * In Node a pending rest timer would keep a stopping worker's process alive;
 * browsers' timers are plain numbers and never do.
 */
function unref(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') {
    (timer as { unref: () => void }).unref();
  }
}
