/**
 * Admission of tasks into the worker: at most `concurrency` at once, and a
 * CPU share below one core's worth kept by idling. `limitsFor` turns such a
 * share into a duty cycle below 1; after a task kept a slot busy for `t` ms,
 * the slot rests `t * (1 / dutyCycle - 1)` ms before it takes the next one, so
 * over time the slot is busy `dutyCycle` of the wall time.
 *
 * A task that finds every slot taken waits up to `maxWaitMs` (the relay gives
 * a worker 15 s in all), then is refused with {@link WorkerBusyError} so the
 * relay can run it elsewhere at once rather than time out.
 */
import { WorkerBusyError } from './errors.ts';

export interface TaskGateLimits {
  /** Tasks at once, at least 1. */
  readonly concurrency: number;
  /** Share of wall time a slot may be busy, above 0 and at most 1. */
  readonly dutyCycle: number;
}

export interface TaskGateInit extends TaskGateLimits {
  /** Longest wait for a slot. Default 5000 ms. */
  readonly maxWaitMs?: number;
  /** Longest rest after one task, however long it ran. Default 60 s. */
  readonly maxRestMs?: number;
}

export interface TaskGateStats {
  readonly running: number;
  readonly resting: number;
  readonly waiting: number;
}

export interface TaskGate {
  /**
   * Runs `task` in a slot once one is free. Rejects with {@link WorkerBusyError}
   * when none frees within the wait, or with the signal's reason.
   */
  run<T>(task: () => Promise<T>, options?: { readonly signal?: AbortSignal }): Promise<T>;
  /** New limits, at once: a larger concurrency admits waiting tasks now; running ones are never cut short. */
  resize(limits: TaskGateLimits): void;
  stats(): TaskGateStats;
  /** Refuses waiting and new tasks with `reason`; running ones finish. Clears rest timers. */
  close(reason: Error): void;
}

interface Waiter {
  readonly admit: () => void;
  readonly refuse: (error: Error) => void;
}

export function createTaskGate(init: TaskGateInit): TaskGate {
  let limits = check(init);
  const maxWaitMs = init.maxWaitMs ?? 5000;
  const maxRestMs = init.maxRestMs ?? 60_000;
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
      timer.unref();
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
      throw new WorkerBusyError(`resting to keep the CPU share; the next slot frees after ${maxWaitMs} ms`);
    }
    await new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => {
        done();
        reject(new WorkerBusyError(`all ${limits.concurrency} task slots stayed busy for ${maxWaitMs} ms`));
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
      limits = check(next);
      admitWaiting();
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

function check(limits: TaskGateLimits): TaskGateLimits {
  if (!Number.isSafeInteger(limits.concurrency) || limits.concurrency < 1) {
    throw new RangeError('concurrency must be a whole number >= 1');
  }
  if (!(limits.dutyCycle > 0 && limits.dutyCycle <= 1)) throw new RangeError('dutyCycle must be in (0, 1]');
  return { concurrency: limits.concurrency, dutyCycle: limits.dutyCycle };
}
