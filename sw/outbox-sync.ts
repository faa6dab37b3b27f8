/**
 * Background Sync: deliver the offline outbox from the service worker, then
 * tell the user (when they allowed notifications) once each result is ready.
 */
import { AIComputeClient, isRetryable } from '#client/sdk/index.ts';
import { openAcnDb } from '#browser-storage/db.ts';
import { deliverAll, OUTBOX_SYNC_TAG } from '#browser-storage/outbox/outbox.ts';

declare const self: ServiceWorkerGlobalScope;

export { OUTBOX_SYNC_TAG };

/** How long the worker waits for results after delivering: browsers end a sync event after a few minutes. */
const RESULT_WAIT_MS = 60_000;

/** Delivers every queued task to the relay at `origin`; notifies as results arrive. */
export async function deliverOutbox(origin: string): Promise<void> {
  const db = await openAcnDb();
  try {
    const client = new AIComputeClient({ relayUrl: origin });
    const delivered = await deliverAll(db, (envelope, input) => client.submitSignedTask(envelope, input), {
      isRetryable,
    });
    if (delivered.length === 0 || Notification.permission !== 'granted') return;
    const signal = AbortSignal.timeout(RESULT_WAIT_MS);
    await Promise.allSettled(
      delivered.map(async (taskId) => {
        await client.waitForResult(taskId, { signal });
        await self.registration.showNotification('Your result is ready', {
          body: 'Open AI Compute Network to see and verify it.',
          tag: taskId,
          data: { url: `/tasks/${taskId}` },
          icon: '/pwa-192x192.png',
        });
      }),
    );
  } finally {
    db.close();
  }
}
