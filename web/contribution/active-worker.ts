/**
 * The tab's one running browser worker, kept outside the Contribute screen:
 * leaving that screen (the app's routing removes its element) must not stop
 * the contribution, and coming back shows the running worker's status.
 * Type-only imports: the screen reads this without loading libp2p.
 */
import type { BrowserWorker, BrowserWorkerStatus } from './browser-worker.ts';

export interface ActiveWorker {
  readonly worker: BrowserWorker;
  /** The newest status it reported. */
  readonly status: BrowserWorkerStatus | undefined;
  readonly keepRunning: boolean;
}

type Listener = (active: ActiveWorker | undefined) => void;

let active: ActiveWorker | undefined;
const listeners = new Set<Listener>();

const publish = (): void => {
  for (const listener of listeners) listener(active);
};

export function activeWorker(): ActiveWorker | undefined {
  return active;
}

/** Makes `worker` the tab's worker (or none); the caller stops the one it replaces. */
export function setActiveWorker(worker: BrowserWorker | undefined, keepRunning = false): void {
  active = worker === undefined ? undefined : { worker, status: undefined, keepRunning };
  publish();
}

/** Records a status of `worker` (ignored when it is no longer the active one). */
export function reportStatus(worker: BrowserWorker, status: BrowserWorkerStatus): void {
  if (active?.worker !== worker) return;
  active = { ...active, status };
  publish();
}

export function setKeepRunning(keepRunning: boolean): void {
  if (active === undefined) return;
  active = { ...active, keepRunning };
  publish();
}

/** Calls `listener` on every change; returns the unsubscribe function. */
export function watchActiveWorker(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
