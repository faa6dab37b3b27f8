/**
 * The app's services, loaded after the first render (this module brings the
 * SDK, dag-cbor, valibot and idb; noble only once something is verified, or
 * where the browser has no WebCrypto Ed25519; libp2p and onnxruntime only on
 * the first direct task or local run). It only wires the focused services:
 * the relay connection, the account, the models, the tasks, the contribution
 * and the Run and Chat screens' sessions. The shell hands each down through its own
 * `@lit/context` (see app-context.ts), and the status they write as
 * {@link AppStatus}.
 */
import type { AccountId } from '#core/identity/ids.ts';
// The SDK's modules one by one, not its index: the index also brings the
// direct-dial module (multiaddr, libp2p's stream helpers), which the client
// loads itself on the first direct answer.
import { AIComputeClient } from '#client/sdk/client.ts';
import { openAcnDb } from '#browser-storage/db.ts';
import { loadOrCreateAccountKey } from '../keys/account-key.ts';
import { getRelayPin, pinRelayFromJoinUrl } from '../keys/relay-pin.ts';
import { createAccountService, type AccountService } from './account-service.ts';
import { createChatSession, type ChatSession } from './chat-session.ts';
import { initialStatus, type AppStatus } from './app-context.ts';
import { createAppStatusStore, type AppStatusStore } from './app-status-store.ts';
import { createConnectionService, type ConnectionService } from './connection-service.ts';
import { createContributionService, type ContributionService } from './contribution-service.ts';
import { createModelService, type ModelService } from './model-service.ts';
import { joinRelayOf } from './routes.ts';
import { createRunSession, type RunSession } from './run-session.ts';
import { createSettingsStore } from './settings-store.ts';
import { createTaskService, type TaskService } from './task-service.ts';
import { yieldToMain } from './yield-to-main.ts';

export type { SubmitOutcome, VerificationState } from './task-service.ts';

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

/** The services the shell provides, one context each. */
export interface AppServices {
  readonly account: AccountService;
  readonly connection: ConnectionService;
  readonly tasks: TaskService;
  readonly models: ModelService;
  readonly contribution: ContributionService;
  readonly run: RunSession;
  readonly chat: ChatSession;
  /** Stops every listener, the events, the outbox watcher and the run in progress, and closes the database. */
  stop(): Promise<void>;
}

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
  const relayUrl = location.origin;
  const account: AccountId = key.account;
  const status = createAppStatusStore({
    initial: { ...initialStatus(navigator.onLine), account },
    onStatus: init.onStatus,
  });
  const settings = createSettingsStore(db);
  const client = new AIComputeClient({
    relayUrl,
    signer: key.signer,
    ...(pin ? { pinnedRelay: pin.account } : {}),
  });

  // The services call one another back (a failure stops the tasks' delivery, a sent task refreshes the
  // balance): the callbacks run after start, once every service below exists.
  const connection = createConnectionService({
    client,
    db,
    relayUrl,
    pin,
    account,
    status,
    onFailure: () => {
      tasks.stopDelivery();
    },
  });
  const models = createModelService({ client, relayUrl, settings });
  const tasks = createTaskService({
    account,
    connection,
    db,
    status,
    models,
    onSpent: () => void accountService.refreshBalance(),
  });
  let followingEvents = false;
  const accountService = createAccountService({
    key,
    db,
    connection,
    status,
    settings,
    onReady: () => {
      tasks.startDelivery();
      if (followingEvents) return;
      followingEvents = true;
      followAccountEvents({ connection, tasks, account: accountService, status });
    },
  });
  const contribution = createContributionService({ relayUrl, client, signer: key.signer, settings });
  const run = createRunSession({ models, tasks });
  const chat = createChatSession({ db, models, tasks });

  const services: AppServices = {
    account: accountService,
    connection,
    tasks,
    models,
    contribution,
    run,
    chat,
    async stop() {
      run.stop();
      chat.stop();
      connection.stop();
      await tasks.stop();
      db.close();
    },
  };
  // The shell renders the first status before the services start their requests.
  await yieldToMain();
  if (pinFailure !== undefined) {
    connection.fail(pinFailure);
  } else {
    connection.start();
    tasks.start();
    void accountService.start();
    void chat.start();
  }
  return services;
}

/** Once ready: a result of this account is notified, and the balance follows tasks and blocks. */
function followAccountEvents(parts: {
  readonly connection: ConnectionService;
  readonly tasks: TaskService;
  readonly account: AccountService;
  readonly status: AppStatusStore;
}): void {
  const { connection, tasks, account, status } = parts;
  const events = connection.events();
  events.on('task_completed', (task) => {
    if (task.requester === account.account) void tasks.notifyResult(task.id);
    void account.refreshBalance();
  });
  events.on('block_mined', () => void account.refreshBalance());
  events.onState((state) => {
    if (state === 'open' && status.status.connection !== 'online') void connection.check();
  });
}
