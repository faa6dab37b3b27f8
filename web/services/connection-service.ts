/**
 * The relay connection: the SDK client, the relay key this device trusts
 * (pinned from the join URL or on first use), whether the relay can be
 * reached (checked on `online`, when the page becomes visible and every
 * while), and the account's live events. A relay that presents another key
 * stops the app: {@link ConnectionService.fail}.
 */
import type { AccountId } from '#core/identity/ids.ts';
import type { AIComputeClient } from '#client/sdk/client.ts';
import { RelayKeyMismatchError } from '#client/sdk/errors.ts';
import type { EventSubscription } from '#client/sdk/events.ts';
import type { AcnDb } from '#browser-storage/db.ts';
import { RelayKeyChangedError } from '../keys/errors.ts';
import { checkRelayKey, type RelayPin } from '../keys/relay-pin.ts';
import type { AppFailure, ConnectionState } from './app-context.ts';
import type { AppStatusStore } from './app-status-store.ts';
import { errorText } from './error-text.ts';

export interface ConnectionServiceInit {
  /** The SDK client, signing as this device's account. */
  readonly client: AIComputeClient;
  /** Where the pinned relay key is kept. */
  readonly db: AcnDb;
  /** The relay's base URL: the app is served by its relay. */
  readonly relayUrl: string;
  /** The relay key pinned so far; undefined until the first one is seen. */
  readonly pin: RelayPin | undefined;
  /** This device's account, whose live events are followed. */
  readonly account: AccountId;
  /** Where the connection state and a failure are written. */
  readonly status: AppStatusStore;
  /** Whether the device has a network, read each time. Default `navigator.onLine`. */
  readonly isOnline?: () => boolean;
  /** Runs `task` every `ms` until the returned function is called. Default `setInterval`. */
  readonly every?: (ms: number, task: () => void) => () => void;
  /** How long a reachability check waits for the relay. Default 5000 ms. */
  readonly statusTimeoutMs?: number;
  /** How often reachability is checked again while the page is visible. Default 30,000 ms. */
  readonly recheckMs?: number;
  /** Called once the app has stopped on a failure, so the other services stop too. Default: nothing. */
  readonly onFailure?: () => void;
}

export interface ConnectionService {
  /** The SDK client, signing as this device's account and pinned to the relay's key once known. */
  readonly client: AIComputeClient;
  /** The relay's base URL. */
  readonly relayUrl: string;
  /** The relay key this device trusts (from the join URL, or the first one seen). */
  readonly pinnedRelay: RelayPin | undefined;
  /** Whether the device has a network now. */
  isOnline(): boolean;
  /** Starts watching the connection: `online`/`offline`, visibility and the periodic check. */
  start(): void;
  /** Stops watching and closes the live events. */
  stop(): void;
  /**
   * Asks the relay for its status: online, unreachable or (no network)
   * offline. Checks the relay's key against the pin; pins it on first use.
   */
  check(): Promise<ConnectionState>;
  /** Checks a key the relay presented against the pin, pinning it on first use; throws when it changed. */
  checkPin(presented: AccountId): Promise<void>;
  /** Stops the app on a failure it cannot get past (the relay's key changed). */
  fail(error: unknown): void;
  /** The account's live events, opened on first use. */
  events(): EventSubscription;
}

/** Makes the connection service; nothing runs until {@link ConnectionService.start}. */
export function createConnectionService(init: ConnectionServiceInit): ConnectionService {
  const { client, status } = init;
  const isOnline = init.isOnline ?? (() => navigator.onLine);
  const every =
    init.every ??
    ((ms: number, task: () => void) => {
      const timer = setInterval(task, ms);
      return () => {
        clearInterval(timer);
      };
    });
  const statusTimeoutMs = init.statusTimeoutMs ?? 5000;
  const recheckMs = init.recheckMs ?? 30_000;
  const stopping = new AbortController();
  let pin = init.pin;
  let events: EventSubscription | undefined;

  const service: ConnectionService = {
    client,
    relayUrl: init.relayUrl,
    get pinnedRelay() {
      return pin;
    },
    isOnline,

    start() {
      const { signal } = stopping;
      window.addEventListener('online', () => void service.check(), { signal });
      window.addEventListener(
        'offline',
        () => {
          status.set({ connection: 'offline' });
        },
        { signal },
      );
      document.addEventListener(
        'visibilitychange',
        () => {
          if (document.visibilityState === 'visible') void service.check();
        },
        { signal },
      );
      const stopTimer = every(recheckMs, () => {
        if (document.visibilityState === 'visible') void service.check();
      });
      signal.addEventListener('abort', stopTimer);
    },

    stop() {
      stopping.abort();
      events?.close();
    },

    async check() {
      if (status.status.phase === 'failed') return status.status.connection;
      if (!isOnline()) {
        status.set({ connection: 'offline' });
        return 'offline';
      }
      try {
        const answer = await client.status({ signal: AbortSignal.timeout(statusTimeoutMs) });
        const presented = answer.relay?.account ?? (pin ? undefined : await client.network());
        if (presented !== undefined) await service.checkPin(presented);
        status.set({ connection: 'online' });
        return 'online';
      } catch (error) {
        if (isKeyChange(error)) {
          service.fail(error);
          return status.status.connection;
        }
        const connection: ConnectionState = isOnline() ? 'unreachable' : 'offline';
        status.set({ connection });
        return connection;
      }
    },

    async checkPin(presented) {
      // The client keeps the key it was made with: the first status it read set its network, the key pinned here.
      pin = await checkRelayKey(init.db, presented, { origin: init.relayUrl });
    },

    fail(error) {
      const text = errorText(error);
      const failure: AppFailure = isKeyChange(error)
        ? { title: 'This is not the relay you joined', message: text.message, code: text.code }
        : { title: 'The app could not start', message: text.message, code: text.code };
      events?.close();
      init.onFailure?.();
      status.set({ phase: 'failed', failure });
    },

    events() {
      events ??= client.events({ account: init.account, signal: stopping.signal });
      return events;
    },
  };
  return service;
}

function isKeyChange(error: unknown): boolean {
  return error instanceof RelayKeyChangedError || error instanceof RelayKeyMismatchError;
}
