/**
 * Admission of tasks into the browser worker: at most `concurrency` at once,
 * and a CPU share below one core's worth kept by resting. `limitsFor` turns
 * such a share into a duty cycle below 1; after a task kept a slot busy for
 * `t` ms, that slot rests `t * (1 / dutyCycle - 1)` ms (at most `maxRestMs`)
 * before it takes the next, so over time it is busy `dutyCycle` of the time.
 *
 * A task that finds no free slot waits up to `maxWaitMs`, then is refused
 * (`busy`), so the relay can run it elsewhere at once rather than time out.
 */
import { TaskRefusedError } from './errors.ts';

export interface TaskSlotLimits {
  /** Tasks at once, at least 1. */
  readonly concurrency: number;
  /** Share of wall time a slot may be busy, in (0, 1]. */
  readonly dutyCycle: number;
}

export interface TaskSlotsInit extends TaskSlotLimits {
  /** Longest wait for a slot. Default 5000 ms (the relay gives a worker 15 s in all). */
  readonly maxWaitMs?: number;
  /** Longest rest after one task. Default 30 s. */
  readonly maxRestMs?: number;
}

export interface TaskSlots {
  /** Runs `task` once a slot is free; rejects with a `busy` {@link TaskRefusedError} after the wait. */
  run<T>(task: () => Promise<T>, options?: { readonly signal?: AbortSignal }): Promise<T>;
  /** New limits at once: running tasks are never cut short, waiting ones are admitted if there is room. */
  resize(limits: TaskSlotLimits): void;
  readonly running: number;
  readonly limits: TaskSlotLimits;
  /** Refuses waiting and new tasks with `reason`. */
  close(reason: Error): void;
}

export function createTaskSlots(init: TaskSlotsInit): TaskSlots {
  let limits = checked(init);
  const maxWaitMs = init.maxWaitMs ?? 5000;
  const maxRestMs = init.maxRestMs ?? 30_000;
  let running = 0;
  let resting = 0;
  let closed: Error | undefined;
  const waiting: { admit: () => void; refuse: (error: Error) => void }[] = [];

  const free = (): boolean => running + resting < limits.concurrency;
  const admitWaiting = (): void => {
    while (waiting.length > 0 && free()) waiting.shift()?.admit();
  };

  function release(busyMs: number): void {
    running--;
    const restMs = Math.min(maxRestMs, busyMs * (1 / limits.dutyCycle - 1));
    if (restMs >= 1 && closed === undefined) {
      resting++;
      setTimeout(() => {
        resting--;
        admitWaiting();
      }, restMs);
    }
    admitWaiting();
  }

  function acquire(signal: AbortSignal | undefined): Promise<void> {
    if (closed) return Promise.reject(closed);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (waiting.length === 0 && free()) {
      running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = waiting.indexOf(waiter);
        if (index >= 0) waiting.splice(index, 1);
      };
      const waiter = {
        admit: () => {
          done();
          running++;
          resolve();
        },
        refuse: (error: Error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        waiter.refuse(
          new TaskRefusedError('busy', `all ${limits.concurrency} task slots stayed busy for ${maxWaitMs} ms`),
        );
      }, maxWaitMs);
      const onAbort = (): void => {
        waiter.refuse(signal?.reason as Error);
      };
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
    get limits() {
      return limits;
    },
    close(reason) {
      closed = reason;
      for (const waiter of waiting.slice()) waiter.refuse(reason);
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
