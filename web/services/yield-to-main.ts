/**
 * Ends the current task and continues in a new one, so the browser can paint
 * and answer input in between: startup work split this way never blocks the
 * main thread for one long stretch. `scheduler.yield()` continues ahead of
 * other queued tasks where the browser has it (Chromium); elsewhere a
 * zero-delay timer does the same, a little later.
 */
export function yieldToMain(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}
