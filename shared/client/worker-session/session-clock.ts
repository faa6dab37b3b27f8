/**
 * Time as the worker session sees it: passed in, so that tests drive the
 * advert renewals, reconnection waits and the stop grace with a fake clock
 * instead of sleeping for real.
 */

/** The clock a worker session reads and waits on. */
export interface SessionClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason once it aborts. */
  sleep(ms: number, options?: { readonly signal?: AbortSignal }): Promise<void>;
}

/**
 * The real clock: `Date.now` and `setTimeout`. Its timers are not unref'd: a
 * Node worker waiting to reconnect has nothing else keeping its process alive.
 */
export const systemClock: SessionClock = {
  now: () => Date.now(),
  sleep: (ms, options = {}) =>
    new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted === true) {
        reject(signal.reason as Error);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};
