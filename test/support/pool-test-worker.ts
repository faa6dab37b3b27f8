/**
 * An inference pool worker for tests: the real one (servePoolWorker) behind a
 * port that looks at each task's input text first. `#hold NAME ...` waits for
 * the test to release NAME (see pool-hold-control.ts), then runs the task as
 * usual; `#crash` throws an uncaught error and `#exit` calls process.exit, so
 * the thread dies the way a buggy pipeline or native module would end it.
 * Everything else, and everything the pool does, is the production code.
 */
import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';
import type { PoolWorkerSetup, ToWorker } from '#node/pool/pool-messages.ts';
import { servePoolWorker, type PoolWorkerPort } from '#node/pool/serve-pool-worker.ts';
import { POOL_TEST_CHANNEL, type HoldMessage } from './pool-hold-control.ts';

if (!parentPort) throw new Error('pool-test-worker.ts runs only as a worker thread');
const parent = parentPort;

const channel = new BroadcastChannel(POOL_TEST_CHANNEL);
const released = new Set<string>();
const waiting = new Map<string, () => void>();
channel.onmessage = (event) => {
  const message = (event as { readonly data: HoldMessage }).data;
  if (!('release' in message)) return;
  released.add(message.release);
  waiting.get(message.release)?.();
};
channel.unref();

function releaseOf(name: string): Promise<void> {
  if (released.has(name)) return Promise.resolve();
  return new Promise((resolve) => {
    waiting.set(name, resolve);
  });
}

const listeners: ((message: ToWorker) => void)[] = [];
const port: PoolWorkerPort = {
  on(_event, listener) {
    listeners.push(listener);
  },
  postMessage(message, transfer) {
    parent.postMessage(message, transfer);
  },
};

// Messages are handed on in order; a held task delays those behind it.
let chain = Promise.resolve();
parent.on('message', (message: ToWorker) => {
  chain = chain.then(async () => {
    if (message.type === 'run') {
      const text = new TextDecoder().decode(message.input.subarray(0, 64));
      if (text.startsWith('#crash')) {
        setImmediate(() => {
          throw new Error('a test task crashed its worker');
        });
        return;
      }
      if (text.startsWith('#exit')) process.exit(3);
      const hold = /^#hold (\S+)/.exec(text)?.[1];
      if (hold !== undefined) {
        channel.postMessage({ held: hold } satisfies HoldMessage);
        await releaseOf(hold);
      }
    }
    for (const listener of listeners) listener(message);
  });
});

servePoolWorker(port, workerData as PoolWorkerSetup);
