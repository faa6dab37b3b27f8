/**
 * The test side of pool-test-worker.ts: tasks whose input text starts with
 * `#hold NAME ` stop in their worker thread, announce themselves here and go
 * on only when the test releases them, so tests about concurrency, resizing
 * and aborts do not depend on timing. Messages travel on a BroadcastChannel,
 * which reaches every thread of the process.
 */
import { BroadcastChannel } from 'node:worker_threads';

export const POOL_TEST_CHANNEL = 'acn-pool-test';

/** The worker script that understands `#hold NAME `, `#crash` and `#exit` inputs. */
export const POOL_TEST_WORKER = new URL('./pool-test-worker.ts', import.meta.url);

/** What goes over the channel: a worker holding a task, or the test releasing one. */
export type HoldMessage = { readonly held: string } | { readonly release: string };

export interface HoldControl {
  /** Resolves once a worker holds the task named `name`. */
  waitHeld(name: string): Promise<void>;
  /** Lets the held task `name` go on. */
  release(name: string): void;
  /** Names of the tasks held right now. */
  held(): string[];
  /** Whether a worker ever held the task named `name`. */
  wasHeld(name: string): boolean;
  /** The most tasks held at once so far. */
  readonly peak: number;
  close(): void;
}

export function createHoldControl(): HoldControl {
  const channel = new BroadcastChannel(POOL_TEST_CHANNEL);
  const held = new Set<string>();
  const seen = new Set<string>();
  const waiters = new Map<string, () => void>();
  let peak = 0;
  channel.onmessage = (event) => {
    const message = (event as { readonly data: HoldMessage }).data;
    if (!('held' in message)) return;
    held.add(message.held);
    seen.add(message.held);
    peak = Math.max(peak, held.size);
    waiters.get(message.held)?.();
  };
  return {
    waitHeld: (name) =>
      seen.has(name)
        ? Promise.resolve()
        : new Promise((resolve) => {
            waiters.set(name, resolve);
          }),
    release(name) {
      held.delete(name);
      channel.postMessage({ release: name } satisfies HoldMessage);
    },
    held: () => [...held],
    wasHeld: (name) => seen.has(name),
    get peak() {
      return peak;
    },
    close: () => {
      channel.close();
    },
  };
}
