/**
 * Entry of an inference worker thread, started by the pool as
 * `new Worker(new URL('./pool-worker.ts', import.meta.url), { workerData })`
 * (Node runs it with type stripping). Everything it does is in
 * serve-pool-worker.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PoolWorkerSetup } from './pool-messages.ts';
import { servePoolWorker } from './serve-pool-worker.ts';

if (!parentPort) throw new Error('pool-worker.ts runs only as a worker thread of the inference pool');
servePoolWorker(parentPort, workerData as PoolWorkerSetup);
