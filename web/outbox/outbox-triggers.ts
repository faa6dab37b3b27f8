/**
 * When the page delivers the outbox itself: on start, when the device comes
 * back `online`, and when the page becomes visible again. This is what
 * Safari and Firefox (no Background Sync) rely on, and what catches anything
 * a Chromium sync event missed. Page only (window and document events).
 */

export interface WatchOutboxOptions {
  /** Called with a failed run's error (runs themselves never throw out of here). Default: ignore. */
  readonly onError?: (error: unknown) => void;
}

/**
 * Runs `deliver` now and on each trigger, one run at a time (a trigger during
 * a run schedules one more run after it). Returns a function that stops
 * watching and aborts the run in progress through the signal `deliver` gets.
 */
export function watchOutbox(
  deliver: (signal: AbortSignal) => Promise<unknown>,
  options: WatchOutboxOptions = {},
): () => void {
  const stop = new AbortController();
  let running = false;
  let again = false;

  const run = (): void => {
    if (stop.signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void deliver(stop.signal)
      .catch((error: unknown) => {
        if (!stop.signal.aborted) options.onError?.(error);
      })
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const onVisibilityChange = (): void => {
    if (document.visibilityState === 'visible') run();
  };

  window.addEventListener('online', run, { signal: stop.signal });
  document.addEventListener('visibilitychange', onVisibilityChange, { signal: stop.signal });
  run();
  return () => {
    stop.abort();
  };
}
