// Background Sync (Chromium only) is not in TypeScript's WebWorker library yet.
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
  readonly lastChance: boolean;
}

interface ServiceWorkerGlobalScopeEventMap {
  sync: SyncEvent;
}

/** onnxruntime-web's version, set by vite.config.ts: names the cache of its wasm files. */
declare const __ORT_VERSION__: string;
