/**
 * The app's services, loaded after the first render (this module brings the
 * SDK, dag-cbor, valibot and idb; noble only once something is verified, or
 * where the browser has no WebCrypto Ed25519): the database, the account
 * key, the pinned relay, the SDK client, the connection state, the outbox
 * and the live events. The shell hands the one {@link AppServices} down through
 * `@lit/context`; pages call it, and read {@link AppStatus} for what to show.
 */
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import type { PowProgress } from '#core/pow/pow.ts';
// The SDK's modules one by one, not its index: the index also brings the
// direct-dial module (multiaddr, libp2p's stream helpers), which the client
// loads itself on the first direct answer.
import { AIComputeClient, type DirectTaskResult, type SignedTask } from '#client/sdk/client.ts';
import { isRetryable, RelayKeyMismatchError } from '#client/sdk/errors.ts';
import type { EventSubscription, RelayEventMap, RelayEventType } from '#client/sdk/events.ts';
import type { HeaderStore } from '#client/sdk/header-store.ts';
import type { AccountBalance, DirectOffer, TaskView } from '#core/api/responses.ts';
import type { VerificationReport } from '#client/sdk/verify-result.ts';
import { loadOrCreateAccountKey, type AccountKey } from '../keys/account-key.ts';
import { RelayKeyChangedError } from '../keys/errors.ts';
import { checkRelayKey, getRelayPin, pinRelayFromJoinUrl, type RelayPin } from '../keys/relay-pin.ts';
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
import { solvePow } from '../pow/solve-pow.ts';
import { openAcnDb, type AcnDb } from '#browser-storage/db.ts';
import { createIdbHeaderStore } from '#browser-storage/idb-header-store.ts';
import type { AppFailure, AppStatus, ConnectionState } from './app-context.ts';
import { ONBOARDED_PREFIX } from './device-probe.ts';
import { errorText } from './error-text.ts';
import { joinRelayOf } from './routes.ts';
import { yieldToMain } from './yield-to-main.ts';
import { historyRows, type TaskHistory } from './task-history.ts';

export interface AppServicesInit {
  /** The page's location: the join URL's fragment is read from it, and the relay is its origin. */
  readonly location: Location;
  /** Used to clean the join URL's fragment once the relay is pinned. */
  readonly history: History;
  /** Called with every new status snapshot. */
  readonly onStatus: (status: AppStatus) => void;
  /** IndexedDB database name. Default `acn` (tests use their own). */
  readonly dbName?: string;
}

/** How long a reachability check waits for the relay. */
const STATUS_TIMEOUT_MS = 5000;
/** How often reachability is checked again while the page is visible. */
const RECHECK_MS = 30_000;
/** How long verification waits for a block to include the settlement. */
const PROOF_WAIT_MS = 30_000;

const ONBOARDED_SETTING = (account: string): string => `${ONBOARDED_PREFIX}${account}`;
const PERSIST_SETTING = 'storage-persist-requested';
/** The last catalogue read from the relay, for offline use. */
const CATALOGUE_SETTING = 'catalogue';

/** What happened to a task handed to {@link AppServices.submit}. */
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

/** A verification's outcome, remembered for the task list. */
export type VerificationState = 'verified' | 'failed';

/**
 * Opens the database, pins the relay from the join URL (then removes the
 * fragment from the address bar), loads or creates the account key and
 * starts the services.
 */
export async function startAppServices(init: AppServicesInit): Promise<AppServices> {
  const { location } = init;
  const db = await openAcnDb({
    ...(init.dbName === undefined ? {} : { name: init.dbName }),
    // A newer version of the app upgrades the database: this page must reload to use it.
    onVersionChange: () => {
      location.reload();
    },
  });
  let pinFailure: unknown;
  try {
    await pinRelayFromJoinUrl(db, location.href);
  } catch (error) {
    pinFailure = error;
  } finally {
    if (joinRelayOf(location.hash) !== undefined) {
      init.history.replaceState(init.history.state, '', location.pathname + location.search);
    }
  }
  const [key, pin] = await Promise.all([loadOrCreateAccountKey(db), getRelayPin(db, { origin: location.origin })]);
  const services = new AppServices({ db, key, pin, origin: location.origin, onStatus: init.onStatus });
  // The shell renders the first status before the services start their requests.
  await yieldToMain();
  if (pinFailure !== undefined) services.fail(pinFailure);
  else services.start();
  return services;
}

interface AppServicesParts {
  readonly db: AcnDb;
  readonly key: AccountKey;
  readonly pin: RelayPin | undefined;
  readonly origin: string;
  readonly onStatus: (status: AppStatus) => void;
}

export class AppServices {
  readonly db: AcnDb;
  readonly key: AccountKey;
  /** The relay's base URL: the app is served by its relay. */
  readonly relayUrl: string;
  /** Verified block headers, kept in the database. */
  readonly headers: HeaderStore;

  readonly #client: AIComputeClient;
  #pin: RelayPin | undefined;
  #status: AppStatus;
  readonly #onStatus: (status: AppStatus) => void;
  readonly #stop = new AbortController();
  #events: EventSubscription | undefined;
  #catalogue: Promise<Catalogue> | undefined;
  #stopOutbox: (() => void) | undefined;
  readonly #verifications = new Map<string, VerificationState>();
  /** Envelopes of tasks sent from this page, so verification can check the task's own signature too. */
  readonly #envelopes = new Map<string, Uint8Array>();
  readonly #notified = new Set<string>();
  /** The libp2p side of the direct path, made on the first direct answer (libp2p is a large chunk). */
  #direct: Promise<DirectTaskRunner> | undefined;

  constructor(parts: AppServicesParts) {
    this.db = parts.db;
    this.key = parts.key;
    this.relayUrl = parts.origin;
    this.#pin = parts.pin;
    this.#onStatus = parts.onStatus;
    this.headers = createIdbHeaderStore(parts.db);
    this.#client = this.#makeClient();
    this.#status = {
      phase: 'starting',
      connection: navigator.onLine ? 'checking' : 'offline',
      account: parts.key.account,
      balance: undefined,
      outboxQueued: 0,
      failure: undefined,
    };
    this.#emit();
  }

  /** The SDK client, signing as this device's account and pinned to the relay's key once known. */
  get client(): AIComputeClient {
    return this.#client;
  }

  get account(): AccountId {
    return this.key.account;
  }

  /** The relay key this device trusts (from the join URL, or the first one seen). */
  get pinnedRelay(): RelayPin | undefined {
    return this.#pin;
  }

  get status(): AppStatus {
    return this.#status;
  }

  /** Starts watching the connection and decides between onboarding and ready. */
  start(): void {
    const { signal } = this.#stop;
    window.addEventListener('online', () => void this.checkConnection(), { signal });
    window.addEventListener(
      'offline',
      () => {
        this.#set({ connection: 'offline' });
      },
      { signal },
    );
    document.addEventListener(
      'visibilitychange',
      () => {
        if (document.visibilityState === 'visible') void this.checkConnection();
      },
      { signal },
    );
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.checkConnection();
    }, RECHECK_MS);
    signal.addEventListener('abort', () => {
      clearInterval(timer);
    });
    signal.addEventListener(
      'abort',
      onOutboxChange(() => void this.#countOutbox()),
    );
    void this.#countOutbox();
    void this.#decidePhase();
  }

  /** Stops every listener, the events and the outbox watcher, and closes the database. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#stopOutbox?.();
    this.#events?.close();
    const direct = this.#direct;
    this.#direct = undefined;
    await direct?.then((runner) => runner.stop()).catch(() => undefined);
    this.db.close();
  }

  /** Stops the app on a failure it cannot get past (the relay's key changed). */
  fail(error: unknown): void {
    const text = errorText(error);
    const failure: AppFailure =
      error instanceof RelayKeyChangedError || error instanceof RelayKeyMismatchError
        ? { title: 'This is not the relay you joined', message: text.message, code: text.code }
        : { title: 'The app could not start', message: text.message, code: text.code };
    this.#stopOutbox?.();
    this.#events?.close();
    this.#set({ phase: 'failed', failure });
  }

  /**
   * Asks the relay for its status: online, unreachable or (no network)
   * offline. Checks the relay's key against the pin; pins it on first use.
   */
  async checkConnection(): Promise<ConnectionState> {
    if (this.#status.phase === 'failed') return this.#status.connection;
    if (!isOnline()) {
      this.#set({ connection: 'offline' });
      return 'offline';
    }
    try {
      const status = await this.#client.status({ signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
      const presented = status.relay?.account ?? (this.#pin ? undefined : await this.#client.network());
      if (presented !== undefined) await this.#checkPin(presented);
      this.#set({ connection: 'online' });
      return 'online';
    } catch (error) {
      if (error instanceof RelayKeyChangedError || error instanceof RelayKeyMismatchError) {
        this.fail(error);
        return this.#status.connection;
      }
      const connection: ConnectionState = isOnline() ? 'unreachable' : 'offline';
      this.#set({ connection });
      return connection;
    }
  }

  /**
   * The relay's model catalogue (fetched once; again after a failure). When
   * the relay cannot be reached, the last catalogue read is returned, so
   * tasks can still be prepared offline and queued.
   */
  catalogue(options: { signal?: AbortSignal } = {}): Promise<Catalogue> {
    this.#catalogue ??= this.#client.models(options).then(
      (catalogue) => {
        void this.db.put('settings', catalogue, CATALOGUE_SETTING).catch(() => undefined);
        return catalogue;
      },
      async (error: unknown) => {
        this.#catalogue = undefined;
        const kept = isRetryable(error) ? await this.readSetting(CATALOGUE_SETTING).catch(() => undefined) : undefined;
        if (kept === undefined) throw error;
        return kept as Catalogue;
      },
    );
    return this.#catalogue;
  }

  /** The catalogue entry of a model id, when the catalogue can be read. */
  async modelEntry(id: string, options: { signal?: AbortSignal } = {}): Promise<ModelEntry | undefined> {
    try {
      return (await this.catalogue(options)).models.find((m) => m.id === id);
    } catch {
      return undefined;
    }
  }

  /** Reads the balance from the relay and updates the status; undefined when the relay cannot be reached. */
  async refreshBalance(options: { signal?: AbortSignal } = {}): Promise<AccountBalance | undefined> {
    try {
      const balance = await this.#client.balance(this.account, options);
      this.#set({ balance: balance.balance });
      return balance;
    } catch (error) {
      if (!isRetryable(error)) throw error;
      void this.checkConnection();
      return undefined;
    }
  }

  /**
   * Onboards this device's account: fetches the relay's puzzle, solves the
   * proof-of-work in a Web Worker (progress through `onProgress`), claims the
   * grant. Returns the grant received (0 when the account already had it).
   */
  async onboard(options: { onProgress?: (progress: PowProgress) => void; signal?: AbortSignal } = {}): Promise<number> {
    const { signal } = options;
    const puzzle = await this.#client.onboardPuzzle({ signal });
    await this.#checkPin(puzzle.network);
    const solution = await solvePow(
      { network: puzzle.network, publicKey: this.key.publicKey, difficulty: puzzle.difficulty },
      { ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(signal ? { signal } : {}) },
    );
    let granted = puzzle.grant;
    try {
      const onboarded = await this.#client.onboard(solution, { signal });
      this.#set({ balance: onboarded.balance });
    } catch (error) {
      // A second device restored from the same backup, or a retry after a lost answer: the grant is already there.
      if ((error as { code?: unknown }).code !== 'already-granted') throw error;
      granted = 0;
    }
    await this.#becomeReady();
    return granted;
  }

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
   */
  async submit(
    entry: ModelEntry,
    input: { readonly bytes: Uint8Array; readonly maxPrice: number },
    options: { signal?: AbortSignal } = {},
  ): Promise<SubmitOutcome> {
    const signed = await this.#client.signTask({
      model: entry.id,
      input: input.bytes,
      maxPrice: input.maxPrice,
      signal: options.signal,
    });
    this.#envelopes.set(signed.taskId, signed.envelope);
    if (isOnline()) {
      try {
        const submitted = await this.#client.submitDirectTask(signed.envelope, signed.input, options);
        void this.refreshBalance();
        if (submitted.direct === undefined) return { kind: 'sent', task: submitted.task };
        const direct = this.#runDirect(signed, submitted.direct);
        // The run goes on whether or not a caller waits for it (its result lands on the relay either way).
        direct.catch(() => undefined);
        return { kind: 'sent', task: submitted.task, direct };
      } catch (error) {
        if (!isRetryable(error)) throw error;
      }
    }
    await enqueue(this.db, { envelope: signed.envelope, input: signed.input }, options);
    const registration = await serviceWorkerRegistration();
    if (registration) await requestBackgroundSync(registration);
    void this.checkConnection();
    return { kind: 'queued', taskId: signed.taskId };
  }

  /** The outbox, oldest first. */
  outbox(options: { signal?: AbortSignal } = {}): Promise<OutboxEntry[]> {
    return list(this.db, options);
  }

  /** Sends every queued task now (the page's own delivery; the service worker does the same on sync). */
  async deliverOutbox(options: { signal?: AbortSignal } = {}): Promise<TaskId[]> {
    const delivered = await deliverAll(
      this.db,
      (envelope, input, opts) => this.#client.submitSignedTask(envelope, input, opts),
      { isRetryable, ...options },
    );
    await this.#countOutbox();
    if (delivered.length > 0) {
      void this.refreshBalance();
      for (const id of delivered) void this.#notifyWhenDone(id);
    }
    return delivered;
  }

  /**
   * The task history: this account's tasks on the relay, newest first, and
   * the outbox's entries the relay does not list (queued, failed). When the
   * relay cannot be reached the outbox alone is listed, with the reason.
   */
  async history(options: { limit?: number; signal?: AbortSignal } = {}): Promise<TaskHistory> {
    const signal = options.signal;
    const [outbox, relay] = await Promise.all([
      this.outbox({ ...(signal ? { signal } : {}) }),
      this.#client.listTasks({ account: this.account, limit: options.limit ?? 100, signal }).then(
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
      : await this.catalogue({ ...(signal ? { signal } : {}) }).catch(() => undefined);
    const rows = historyRows(relay.tasks, outbox, {
      catalogue,
      verifications: this.#verifications,
      limit: options.limit,
    });
    return { rows, relayError: relay.error === undefined ? undefined : errorText(relay.error).message };
  }

  /** The outbox entry of a task, if it went through the outbox. */
  async outboxEntry(id: TaskId): Promise<OutboxEntry | undefined> {
    return (await this.outbox()).find((e) => e.taskId === id);
  }

  /**
   * Verifies a task's result as a light client: result and receipt, the
   * settlement's inclusion proof and its block header, linked to the headers
   * kept in the database. Remembers the outcome for the task list.
   */
  async verify(id: TaskId, options: { signal?: AbortSignal } = {}): Promise<VerificationReport> {
    const envelope = this.#envelopes.get(id) ?? (await this.outboxEntry(id))?.envelope;
    const report = await this.#client.verifyTask(id, {
      headers: this.headers,
      proofWaitMs: PROOF_WAIT_MS,
      ...(envelope ? { task: envelope } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.#verifications.set(id, report.verified ? 'verified' : 'failed');
    return report;
  }

  /** Calls `handler` for each live event of `type` about this account (or about no account). */
  onEvent<K extends RelayEventType>(type: K, handler: (data: RelayEventMap[K], ts: number) => void): () => void {
    return this.#subscription().on(type, handler);
  }

  /** Reads a setting (undefined when unset). */
  async readSetting(name: string): Promise<unknown> {
    return this.db.get('settings', name);
  }

  /** Stores a setting and tells the other contexts of this origin (workers read their settings live). */
  async writeSetting(name: string, value: unknown): Promise<void> {
    await this.db.put('settings', value, name);
    if (typeof BroadcastChannel !== 'undefined') {
      const channel = new BroadcastChannel('acn-settings');
      channel.postMessage({ name });
      channel.close();
    }
  }

  /** Shows "Your result is ready" for a task, when the user allowed notifications (once per task). */
  async notifyResult(id: TaskId): Promise<void> {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted' || this.#notified.has(id)) return;
    this.#notified.add(id);
    const options: NotificationOptions = {
      body: 'Open AI Compute Network to see and verify it.',
      tag: id,
      data: { url: `/tasks/${id}` },
      icon: '/pwa-192x192.png',
    };
    const registration = await serviceWorkerRegistration();
    if (registration) await registration.showNotification('Your result is ready', options);
    else new Notification('Your result is ready', options);
  }

  // ---- Internals ----------------------------------------------------------------

  /**
   * Runs a task the relay assigned to a desktop worker: dials it with the
   * browser node (made now, on the first direct answer), or, on any failure,
   * asks the relay to run it brokered. Not tied to the page's signal: the
   * task is escrowed, and leaving the Run screen should not leave it to the
   * relay's deadline; the app's stop ends it.
   */
  async #runDirect(signed: SignedTask, offer: DirectOffer): Promise<DirectTaskResult> {
    const signal = this.#stop.signal;
    try {
      const runner = await this.#directRunner();
      return await runner.complete(signed, offer, { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      await this.#client.requestFallback(signed.taskId, { signal }).catch(() => undefined);
      const result = await this.#client.waitForResult(signed.taskId, { signal });
      return { ...result, via: 'relay', fallbackReason: errorText(error).message };
    }
  }

  #directRunner(): Promise<DirectTaskRunner> {
    this.#direct ??= (async () => {
      const [{ createDirectTaskRunner, relayMultiaddrOf }, network] = await Promise.all([
        import('../p2p/direct-task.ts'),
        this.#client.network({ signal: this.#stop.signal }),
      ]);
      // The relay's libp2p identity is its account, the network id; libp2p listens on the app's own origin.
      return createDirectTaskRunner({ client: this.#client, relayMultiaddr: relayMultiaddrOf(this.relayUrl, network) });
    })().catch((error: unknown) => {
      this.#direct = undefined;
      throw error;
    });
    return this.#direct;
  }

  #makeClient(): AIComputeClient {
    return new AIComputeClient({
      relayUrl: this.relayUrl,
      signer: this.key.signer,
      ...(this.#pin ? { pinnedRelay: this.#pin.account } : {}),
    });
  }

  /**
   * Checks a key the relay presented against the pin (pinning it on first
   * use). The client keeps the key it was made with: the first status it read
   * set its network, which is the key pinned here.
   */
  async #checkPin(presented: AccountId): Promise<void> {
    this.#pin = await checkRelayKey(this.db, presented, { origin: this.relayUrl });
  }

  async #decidePhase(): Promise<void> {
    const onboarded = (await this.readSetting(ONBOARDED_SETTING(this.account))) === true;
    if (onboarded) {
      await this.#becomeReady();
      void this.checkConnection();
      return;
    }
    const connection = await this.checkConnection();
    if (this.#status.phase === 'failed') return;
    if (connection === 'online') {
      const balance = await this.refreshBalance().catch(() => undefined);
      if (balance?.granted === true) {
        await this.#becomeReady();
        return;
      }
    }
    this.#set({ phase: 'onboarding' });
  }

  async #becomeReady(): Promise<void> {
    await this.db.put('settings', true, ONBOARDED_SETTING(this.account));
    this.#set({ phase: 'ready' });
    void this.#requestPersistence();
    void this.refreshBalance();
    this.#stopOutbox ??= watchOutbox((signal) => this.deliverOutbox({ signal }));
    const events = this.#subscription();
    events.on('task_completed', (task) => {
      if (task.requester === this.account) void this.notifyResult(task.id);
      void this.refreshBalance();
    });
    events.on('block_mined', () => void this.refreshBalance());
    events.onState((state) => {
      if (state === 'open' && this.#status.connection !== 'online') void this.checkConnection();
    });
  }

  /** The account's live events, opened on first use. */
  #subscription(): EventSubscription {
    this.#events ??= this.#client.events({ account: this.account, signal: this.#stop.signal });
    return this.#events;
  }

  /** Asks the browser once to keep the app's storage (the key, the outbox) when space runs low. */
  async #requestPersistence(): Promise<void> {
    if ((await this.readSetting(PERSIST_SETTING)) === true) return;
    await this.db.put('settings', true, PERSIST_SETTING);
    if ('storage' in navigator) await navigator.storage.persist().catch(() => false);
  }

  async #notifyWhenDone(id: TaskId): Promise<void> {
    try {
      await this.#client.waitForResult(id, {
        signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(60_000)]),
      });
      await this.notifyResult(id);
    } catch {
      // No result in time, or the task failed: the task list shows it.
    }
  }

  async #countOutbox(): Promise<void> {
    try {
      const queued = (await this.outbox()).filter((e) => e.state === 'queued').length;
      if (queued !== this.#status.outboxQueued) this.#set({ outboxQueued: queued });
    } catch {
      // The database is closing: nothing to count.
    }
  }

  #set(change: Partial<AppStatus>): void {
    if (this.#status.phase === 'failed' && change.phase !== undefined && change.phase !== 'failed') return;
    this.#status = { ...this.#status, ...change };
    this.#emit();
  }

  #emit(): void {
    this.#onStatus(this.#status);
  }
}

/** Whether the device has a network; read each time (it changes while awaiting). */
function isOnline(): boolean {
  return navigator.onLine;
}

/** The page's service worker registration; undefined without one (insecure origin, not registered yet). */
async function serviceWorkerRegistration(): Promise<ServiceWorkerRegistration | undefined> {
  if (!('serviceWorker' in navigator)) return undefined;
  return navigator.serviceWorker.getRegistration();
}
