/**
 * The service worker: the precached app shell (offline navigations), a cache
 * of model files by content hash and of onnxruntime's wasm, and the offline
 * outbox delivered on Background Sync.
 */
import { CacheableResponsePlugin } from 'workbox-cacheable-response';
import { clientsClaim } from 'workbox-core';
import type { WorkboxPlugin } from 'workbox-core/types.js';
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { CacheFirst } from 'workbox-strategies';
import { MODEL_CACHE } from '#browser-storage/model-store.ts';
import { OUTBOX_SYNC_TAG, deliverOutbox } from './outbox-sync.ts';

declare const self: ServiceWorkerGlobalScope;

/** Only complete answers are cached (workbox's plugin type predates exactOptionalPropertyTypes, hence the cast). */
const completeOnly = new CacheableResponsePlugin({ statuses: [200] }) as WorkboxPlugin;

/** Paths the relay answers itself; never the app shell. */
const NOT_APP = /^\/(api|models|ort|metrics|healthz|readyz)(\/|$)/;

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
// The first install controls the open page at once; later versions wait for
// the user's "Reload" (SKIP_WAITING below) so a page never changes under them.
clientsClaim();

// Every navigation inside the app gets the precached shell, online or not.
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), { denylist: [NOT_APP] }));

// Model files never change for a hash: the first full download is kept for
// good, in the cache the app's model store also fills. Partial (206) answers
// to resumed downloads are not cached.
registerRoute(
  ({ url, request }) => url.pathname.startsWith('/models/') && !request.headers.has('range'),
  new CacheFirst({ cacheName: MODEL_CACHE, plugins: [completeOnly] }),
);

// onnxruntime-web's wasm (14 MB, or 28 MB for WebGPU) and its loader, kept per
// onnxruntime version: a new version of the app that brings another onnxruntime
// drops the old cache.
const ORT_CACHE = `acn-ort-${__ORT_VERSION__}`;
registerRoute(
  ({ url }) => url.pathname.startsWith('/ort/'),
  new CacheFirst({ cacheName: ORT_CACHE, plugins: [completeOnly] }),
);

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => n.startsWith('acn-ort-') && n !== ORT_CACHE).map((n) => caches.delete(n))),
      ),
  );
});

self.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type === 'SKIP_WAITING') void self.skipWaiting();
});

self.addEventListener('sync', (event) => {
  if (event.tag === OUTBOX_SYNC_TAG) event.waitUntil(deliverOutbox(self.location.origin));
});

// A tap on a "result ready" notification opens that task in the app.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = (event.notification.data as { url?: string } | null)?.url ?? '/';
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(async (windows) => {
      const open = windows[0];
      if (open) {
        await open.focus();
        await open.navigate(url);
        return;
      }
      await self.clients.openWindow(url);
    }),
  );
});
