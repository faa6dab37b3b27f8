/**
 * A second context for the outbox tests: a dedicated worker (no window, no
 * DOM, like the service worker) that delivers the same outbox as the page.
 * It says `ready` once loaded, and delivers when told to `go`.
 */
import { openAcnDb } from '#browser-storage/db.ts';
import { deliverAll } from '#browser-storage/outbox/outbox.ts';

export interface OutboxWorkerGo {
  readonly dbName: string;
  /** How long each submission takes, so the page and the worker overlap. */
  readonly delayMs: number;
}

const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent<OutboxWorkerGo>) => void) | null;
};

scope.onmessage = ({ data }) => {
  void (async () => {
    const db = await openAcnDb({ name: data.dbName });
    try {
      const submitted: string[] = [];
      const delivered = await deliverAll(
        db,
        async (envelope) => {
          submitted.push(String(envelope.length));
          await new Promise((resolve) => setTimeout(resolve, data.delayMs));
        },
        { isRetryable: () => true },
      );
      scope.postMessage({ delivered, submissions: submitted.length, hasWindow: 'window' in globalThis });
    } catch (error) {
      scope.postMessage({ error: String(error) });
    } finally {
      db.close();
    }
  })();
};
scope.postMessage('ready');
