/**
 * This account's tasks: signing and sending one (on the interactive direct
 * path when the relay assigns a desktop worker, or queued in the outbox when
 * the relay cannot be reached), the outbox and its delivery, the merged
 * history, a task's view and result, verification as a light client, and
 * "Your result is ready" notifications.
 */
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { DirectTaskResult, SignedTask } from '#client/sdk/client.ts';
import { isRetryable } from '#client/sdk/errors.ts';
import type { RelayEventMap, RelayEventType } from '#client/sdk/events.ts';
import type { HeaderStore } from '#client/sdk/header-store.ts';
import type { VerificationReport } from '#client/sdk/verify-result.ts';
import type { DirectOffer, TaskResult, TaskView } from '#core/api/responses.ts';
import type { AcnDb } from '#browser-storage/db.ts';
import { createIdbHeaderStore } from '#browser-storage/idb-header-store.ts';
import {
  deliverAll,
  enqueue,
  list,
  onOutboxChange,
  requestBackgroundSync,
  type OutboxEntry,
} from '#browser-storage/outbox/outbox.ts';
import { watchOutbox } from '../outbox/outbox-triggers.ts';
import type { DirectTaskRunner } from '../p2p/direct-task.ts';
import type { AppStatusStore } from './app-status-store.ts';
import type { ConnectionService } from './connection-service.ts';
import { errorText } from './error-text.ts';
import type { ModelService } from './model-service.ts';
import { historyRows, type TaskHistory } from './task-history.ts';

/** What happened to a task handed to {@link TaskService.submit}. */
export type SubmitOutcome =
  | {
      readonly kind: 'sent';
      readonly task: TaskView;
      /**
       * When the relay assigned the task to a desktop worker the phone dials
       * itself: the result of that run, or of the brokered fallback (`via`
       * says which). Absent when the relay runs it brokered from the start.
       */
      readonly direct?: Promise<DirectTaskResult>;
    }
  | { readonly kind: 'queued'; readonly taskId: TaskId };

/**
 * A language model's answer as it is made, and Stop: `onText` gets each
 * generated piece's index and the text it makes final (a stream replayed
 * from its start repeats indices); aborting `stop` ends the generation with
 * what it made, and the task settles for those pieces (one not started yet
 * is cancelled and refunded). Other tasks ignore both.
 */
export interface TextStreamOptions {
  readonly onText?: ((index: number, text: string) => void) | undefined;
  readonly stop?: AbortSignal | undefined;
}

/** A verification's outcome, remembered for the task list. */
export type VerificationState = 'verified' | 'failed';

export interface TaskServiceInit {
  /** This device's account, whose tasks are listed. */
  readonly account: AccountId;
  /** The relay: its client, reachability and live events. */
  readonly connection: ConnectionService;
  /** The outbox and the verified block headers live here. */
  readonly db: AcnDb;
  /** Where the outbox count is written. */
  readonly status: AppStatusStore;
  /** Model names for the history's rows. */
  readonly models: Pick<ModelService, 'catalogue'>;
  /** Called when a task may have changed the balance (sent, delivered). Default: nothing. */
  readonly onSpent?: () => void;
  /** Verified block headers. Default: kept in `db`. */
  readonly headers?: HeaderStore;
  /** How long verification waits for a block to include the settlement. Default 30,000 ms. */
  readonly proofWaitMs?: number;
  /** How long a delivered task's result is waited for, to notify it. Default 60,000 ms. */
  readonly notifyWaitMs?: number;
}

export interface TaskService {
  /** Starts counting the outbox into the status. */
  start(): void;
  /** Starts delivering the outbox from the page (on start, `online` and visibility); once ready. */
  startDelivery(): void;
  /** Stops delivering the outbox from the page (the app stopped on a failure). */
  stopDelivery(): void;
  /** Stops counting and delivering, and the direct path's browser node. */
  stop(): Promise<void>;
  /**
   * Signs a task and sends it; when the device is offline or the relay
   * cannot be reached, queues it in the outbox (sent on reconnection, or by
   * the service worker's Background Sync) instead.
   *
   * Online, the task goes on the interactive path (`route: 'direct'`): when
   * the relay answers with a desktop worker to dial, this device runs it
   * there over WebRTC and brings the receipt back (see {@link SubmitOutcome}'s
   * `direct`); if that fails or is too slow, the relay runs it brokered, so
   * the user sees at most a delay. The outbox stays brokered: a task sent
   * later, maybe by the service worker, has nobody to dial the worker.
   *
   * `onText` and `stop` (see {@link TextStreamOptions}) go to the direct
   * run; for a task the relay runs brokered, give them to
   * {@link TaskService.waitForResult}.
   */
  submit(
    entry: ModelEntry,
    input: { readonly bytes: Uint8Array; readonly maxPrice: number },
    options?: { signal?: AbortSignal } & TextStreamOptions,
  ): Promise<SubmitOutcome>;
  /** The outbox, oldest first. */
  outbox(options?: { signal?: AbortSignal }): Promise<OutboxEntry[]>;
  /** The outbox entry of a task, if it went through the outbox. */
  outboxEntry(id: TaskId): Promise<OutboxEntry | undefined>;
  /** Sends every queued task now (the page's own delivery; the service worker does the same on sync). */
  deliverOutbox(options?: { signal?: AbortSignal }): Promise<TaskId[]>;
  /**
   * The task history: this account's tasks on the relay, newest first, and
   * the outbox's entries the relay does not list (queued, failed). When the
   * relay cannot be reached the outbox alone is listed, with the reason.
   */
  history(options?: { limit?: number; signal?: AbortSignal }): Promise<TaskHistory>;
  /** A task as the relay has it. */
  task(id: TaskId, options?: { signal?: AbortSignal }): Promise<TaskView>;
  /** A task's result; null while there is none. */
  result(id: TaskId, options?: { signal?: AbortSignal }): Promise<TaskResult | null>;
  /** Waits for a task's result; a language model's text streams to `onText` meanwhile, and `stop` ends it. */
  waitForResult(id: TaskId, options?: { signal?: AbortSignal } & TextStreamOptions): Promise<TaskResult>;
  /** Cancels a task still pending on the relay (its escrow is refunded). */
  cancel(id: TaskId): Promise<TaskView>;
  /**
   * Verifies a task's result as a light client: result and receipt, the
   * settlement's inclusion proof and its block header, linked to the headers
   * kept in the database. Remembers the outcome for the task list.
   */
  verify(id: TaskId, options?: { signal?: AbortSignal }): Promise<VerificationReport>;
  /** Calls `handler` for each live event of `type` about this account (or about no account). */
  onEvent<K extends RelayEventType>(type: K, handler: (data: RelayEventMap[K], ts: number) => void): () => void;
  /** Shows "Your result is ready" for a task, when the user allowed notifications (once per task). */
  notifyResult(id: TaskId): Promise<void>;
}

/** Makes the task service; nothing runs until {@link TaskService.start}. */
export function createTaskService(init: TaskServiceInit): TaskService {
  const { connection, db, status } = init;
  const { client } = connection;
  const headers = init.headers ?? createIdbHeaderStore(db);
  const proofWaitMs = init.proofWaitMs ?? 30_000;
  const notifyWaitMs = init.notifyWaitMs ?? 60_000;
  const onSpent = init.onSpent ?? (() => undefined);
  const stopping = new AbortController();
  const verifications = new Map<string, VerificationState>();
  /** Envelopes of tasks sent from this page, so verification can check the task's own signature too. */
  const envelopes = new Map<string, Uint8Array>();
  const notified = new Set<string>();
  let stopDelivery: (() => void) | undefined;
  /** The libp2p side of the direct path, made on the first direct answer (libp2p is a large chunk). */
  let direct: Promise<DirectTaskRunner> | undefined;

  const countOutbox = async (): Promise<void> => {
    try {
      const queued = (await service.outbox()).filter((e) => e.state === 'queued').length;
      if (queued !== status.status.outboxQueued) status.set({ outboxQueued: queued });
    } catch {
      // The database is closing: nothing to count.
    }
  };

  const directRunner = (): Promise<DirectTaskRunner> => {
    direct ??= (async () => {
      const [{ createDirectTaskRunner, relayMultiaddrOf }, network] = await Promise.all([
        import('../p2p/direct-task.ts'),
        client.network({ signal: stopping.signal }),
      ]);
      // The relay's libp2p identity is its account, the network id; libp2p listens on the app's own origin.
      return createDirectTaskRunner({ client, relayMultiaddr: relayMultiaddrOf(connection.relayUrl, network) });
    })().catch((error: unknown) => {
      direct = undefined;
      throw error;
    });
    return direct;
  };

  /**
   * Runs a task the relay assigned to a desktop worker: dials it with the
   * browser node (made now, on the first direct answer), or, on any failure,
   * asks the relay to run it brokered. Not tied to the caller's signal: the
   * task is escrowed, and leaving the Run screen should not leave it to the
   * relay's deadline; the service's stop ends it.
   */
  const runDirect = async (
    signed: SignedTask,
    offer: DirectOffer,
    stream: TextStreamOptions,
  ): Promise<DirectTaskResult> => {
    const signal = stopping.signal;
    try {
      const runner = await directRunner();
      return await runner.complete(signed, offer, { signal, ...stream });
    } catch (error) {
      if (signal.aborted) throw error;
      await client.requestFallback(signed.taskId, { signal }).catch(() => undefined);
      const result = await client.waitForResult(signed.taskId, { signal, ...stream });
      return { ...result, via: 'relay', fallbackReason: errorText(error).message };
    }
  };

  const notifyWhenDone = async (id: TaskId): Promise<void> => {
    try {
      await client.waitForResult(id, { signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(notifyWaitMs)]) });
      await service.notifyResult(id);
    } catch {
      // No result in time, or the task failed: the task list shows it.
    }
  };

  const service: TaskService = {
    start() {
      stopping.signal.addEventListener(
        'abort',
        onOutboxChange(() => void countOutbox()),
      );
      void countOutbox();
    },

    startDelivery() {
      stopDelivery ??= watchOutbox((signal) => service.deliverOutbox({ signal }));
    },

    stopDelivery() {
      stopDelivery?.();
    },

    async stop() {
      stopping.abort();
      stopDelivery?.();
      const running = direct;
      direct = undefined;
      await running?.then((runner) => runner.stop()).catch(() => undefined);
    },

    async submit(entry, input, options = {}) {
      const signed = await client.signTask({
        model: entry.id,
        input: input.bytes,
        maxPrice: input.maxPrice,
        signal: options.signal,
      });
      envelopes.set(signed.taskId, signed.envelope);
      if (connection.isOnline()) {
        try {
          const submitted = await client.submitDirectTask(signed.envelope, signed.input, { signal: options.signal });
          onSpent();
          if (submitted.direct === undefined) return { kind: 'sent', task: submitted.task };
          const run = runDirect(signed, submitted.direct, { onText: options.onText, stop: options.stop });
          // The run goes on whether or not a caller waits for it (its result lands on the relay either way).
          run.catch(() => undefined);
          return { kind: 'sent', task: submitted.task, direct: run };
        } catch (error) {
          if (!isRetryable(error)) throw error;
        }
      }
      await enqueue(
        db,
        { envelope: signed.envelope, input: signed.input },
        options.signal ? { signal: options.signal } : {},
      );
      const registration = await serviceWorkerRegistration();
      if (registration) await requestBackgroundSync(registration);
      void connection.check();
      return { kind: 'queued', taskId: signed.taskId };
    },

    outbox(options = {}) {
      return list(db, options);
    },

    async outboxEntry(id) {
      return (await service.outbox()).find((e) => e.taskId === id);
    },

    async deliverOutbox(options = {}) {
      const delivered = await deliverAll(
        db,
        (envelope, input, opts) => client.submitSignedTask(envelope, input, opts),
        {
          isRetryable,
          ...options,
        },
      );
      await countOutbox();
      if (delivered.length > 0) {
        onSpent();
        for (const id of delivered) void notifyWhenDone(id);
      }
      return delivered;
    },

    async history(options = {}) {
      const signal = options.signal;
      const [outbox, relay] = await Promise.all([
        service.outbox({ ...(signal ? { signal } : {}) }),
        client.listTasks({ account: init.account, limit: options.limit ?? 100, signal }).then(
          (tasks) => ({ tasks, error: undefined }),
          (error: unknown) => ({
            tasks: [] as TaskView[],
            error: error instanceof Error ? error : new Error(String(error)),
          }),
        ),
      ]);
      if (relay.error !== undefined && !isRetryable(relay.error)) throw relay.error;
      // Model names for the rows: a new account has none, and need not fetch and check the catalogue at start.
      const empty = relay.tasks.length === 0 && outbox.length === 0;
      const catalogue = empty
        ? undefined
        : await init.models.catalogue({ ...(signal ? { signal } : {}) }).catch(() => undefined);
      const rows = historyRows(relay.tasks, outbox, { catalogue, verifications, limit: options.limit });
      return { rows, relayError: relay.error === undefined ? undefined : errorText(relay.error).message };
    },

    task(id, options = {}) {
      return client.getTask(id, options);
    },

    result(id, options = {}) {
      return client.getTaskResult(id, options);
    },

    waitForResult(id, options = {}) {
      return client.waitForResult(id, options);
    },

    cancel(id) {
      return client.cancelTask(id);
    },

    async verify(id, options = {}) {
      const envelope = envelopes.get(id) ?? (await service.outboxEntry(id))?.envelope;
      const report = await client.verifyTask(id, {
        headers,
        proofWaitMs,
        ...(envelope ? { task: envelope } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      verifications.set(id, report.verified ? 'verified' : 'failed');
      return report;
    },

    onEvent(type, handler) {
      return connection.events().on(type, handler);
    },

    async notifyResult(id) {
      if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || notified.has(id)) return;
      notified.add(id);
      const options: NotificationOptions = {
        body: 'Open AI Compute Network to see and verify it.',
        tag: id,
        data: { url: `/tasks/${id}` },
        icon: '/pwa-192x192.png',
      };
      const registration = await serviceWorkerRegistration();
      if (registration) await registration.showNotification('Your result is ready', options);
      else new Notification('Your result is ready', options);
    },
  };
  return service;
}

/** The page's service worker registration; undefined without one (insecure origin, not registered yet). */
async function serviceWorkerRegistration(): Promise<ServiceWorkerRegistration | undefined> {
  if (!('serviceWorker' in navigator)) return undefined;
  return navigator.serviceWorker.getRegistration();
}
