/**
 * Registers the service worker with workbox-window and drives the update
 * toast: a new worker that is waiting shows "Update available — Reload";
 * Reload tells it to skip waiting (the worker answers `{type:'SKIP_WAITING'}`)
 * and the page reloads once the new worker controls it.
 */
import { Workbox } from 'workbox-window';
import type { AcnUpdateToast } from '../components/acn-update-toast.ts';

/** The built worker's URL: vite-plugin-pwa writes sw.ts to dist/app/sw.js. */
export const SERVICE_WORKER_URL = '/sw.js';

/**
 * Registers {@link SERVICE_WORKER_URL}. The build bundles the worker into one
 * file with no `import` left, so it registers as a classic script, which every
 * browser with service workers runs (module workers are newer).
 */
export async function registerAppServiceWorker(toast: AcnUpdateToast): Promise<Workbox> {
  const wb = new Workbox(SERVICE_WORKER_URL);
  wb.addEventListener('waiting', () => {
    toast.onReload = () => {
      wb.addEventListener('controlling', () => {
        location.reload();
      });
      wb.messageSkipWaiting();
    };
    toast.open = true;
  });
  await wb.register();
  return wb;
}
