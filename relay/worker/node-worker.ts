/**
 * The headless Node worker (`npm run worker`): contributes this machine's
 * compute to a relay's network and gets paid for it.
 *
 * On start it pins the relay's identity (the network id), onboards and stakes
 * through the SDK when the account holds less than `stake`, chooses the models
 * to offer (see model-selection.ts), downloads and checks them into its data
 * directory, starts the relay's inference pool (onnxruntime-node in worker
 * threads) sized by its resource allocation, connects to the relay over
 * libp2p (WebSockets, plus WebRTC through a circuit reservation) and sends a
 * signed advert. Tasks arrive on `/acn/task/1.0.0`; each is run within the
 * concurrency and CPU share and answered with a signed receipt.
 *
 * The advert, admission, answering, receipts, renewal and reconnection are
 * the worker session every desktop worker runs
 * (shared/client/worker-session/worker-session.ts); this is its Node adapter:
 * the onnxruntime-node pool, the model cache on disk, node-datachannel
 * WebRTC (worker-libp2p.ts), the SDK's staking and the earnings.
 *
 * Settings change live with `update()`: the pool is resized (new tasks get
 * workers with the new thread count; running ones finish), models are
 * fetched or dropped, and a new advert (higher `seq`) goes to the relay. The
 * advert is also renewed every `advertIntervalMs`, before the relay's 60 s
 * expiry. When the relay connection drops, the worker reconnects with
 * backoff and advertises again.
 */
import { mkdir, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { TypedEventEmitter, type PeerId, type PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import envPaths from 'env-paths';
import type { AccountId, Hash, ModelId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { DEFAULT_LEDGER_PARAMS } from '#core/ledger/genesis.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { limitsFor, type DeviceTotals, type ResourceLimits } from '#core/resources/allocation.ts';
import { AIComputeClient, type AccountBalance } from '#client/sdk/index.ts';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createInferencePool, type InferencePool } from '#node/pool/inference-pool.ts';
import { WorkerSessionStartedError, WorkerSessionStoppedError } from '#client/worker-session/errors.ts';
import {
  createWorkerSession,
  type AdvertOutcome as SessionAdvertOutcome,
  type WorkerConnectOptions,
  type WorkerSession,
  type WorkerSessionNode,
} from '#client/worker-session/worker-session.ts';
import { ensureStake } from './ensure-stake.ts';
import { RelayIdentityError } from './errors.ts';
import { createModelCache, modelFiles, type ModelCache } from './model-cache.ts';
import { selectModels, type SkippedModel } from './model-selection.ts';
import { fetchBootstrap, relayMultiaddrs } from './relay-addresses.ts';
import { createTaskGate, type TaskGate } from './task-gate.ts';
import { createTaskRunner, type TaskEvent } from './task-runner.ts';
import { createWorkerLibp2p } from './worker-libp2p.ts';
import { workerPresetAllocation, type WorkerSettings } from './worker-settings.ts';

/** Where the worker keeps its key, settings and models unless told otherwise. */
export const DEFAULT_WORKER_DATA_DIR = join(envPaths('ai-compute-network', { suffix: '' }).data, 'worker');

/** Balanced preset, asking 1 token per unit, every model it can run. */
export const DEFAULT_WORKER_SETTINGS: WorkerSettings = {
  allocation: workerPresetAllocation('balanced'),
  pricePerUnit: 1,
  models: 'all',
};

export interface NodeWorkerInit {
  /** The relay's base URL (`http://…` or `https://…`). */
  readonly relayUrl: string;
  /** The worker's account key: signs adverts, receipts and transactions, and is its PeerId. */
  readonly key: { readonly signer: Signer; readonly privateKey: PrivateKey };
  /** Where models are cached (`<dataDir>/models`). Default {@link DEFAULT_WORKER_DATA_DIR}. */
  readonly dataDir?: string;
  /** Default {@link DEFAULT_WORKER_SETTINGS}. */
  readonly settings?: WorkerSettings;
  /**
   * The stake to hold, in tokens: the relay pays only workers with its
   * minimum stake (which it does not publish). 0 skips onboarding and staking.
   * Default the protocol's default minimum, 10,000.
   */
  readonly stake?: number;
  /**
   * What the machine has, overriding what is measured: cores
   * (`os.availableParallelism()`), memory (`os.totalmem()`), storage (free
   * space in `dataDir` plus the models cached there) and GPU memory (0:
   * onnxruntime-node runs on the CPU here).
   */
  readonly device?: Partial<DeviceTotals>;
  /** The relay key to insist on (the join URL's `#relay=`). Default: whatever the relay says. */
  readonly pinnedRelay?: AccountId;
  /** Reserve on the relay and accept WebRTC connections through it. Default true. */
  readonly webrtc?: boolean;
  /** How often the advert is renewed (the relay forgets one after 60 s). Default 20 s. */
  readonly advertIntervalMs?: number;
  /** How often the ledger balance is read for the earnings. Default 10 s. */
  readonly balanceIntervalMs?: number;
  /** Longest wait between reconnection attempts. Default 30 s. */
  readonly maxReconnectDelayMs?: number;
  /** How long `stop()` lets running tasks finish. Default 10 s. */
  readonly stopGraceMs?: number;
  /** Default: node:crypto. */
  readonly verifier?: Ed25519Verifier;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** libp2p's own debug logger instead of a silent one. Default false. */
  readonly debugLibp2p?: boolean;
}

export type NodeWorkerState = 'idle' | 'starting' | 'connecting' | 'online' | 'stopping' | 'stopped';

/** The relay's answer to an advert, with the limits the worker had when it came. */
export interface AdvertOutcome extends SessionAdvertOutcome {
  readonly limits: ResourceLimits;
}

export interface NodeWorkerStatus {
  readonly state: NodeWorkerState;
  readonly account: AccountId;
  readonly relay: {
    readonly peerId: AccountId | undefined;
    readonly connected: boolean;
    /** libp2p peers connected now (the relay and clients over WebRTC). */
    readonly peers: number;
    readonly webrtcAddrs: readonly string[];
  };
  readonly settings: WorkerSettings;
  readonly device: DeviceTotals;
  readonly limits: ResourceLimits;
  /** The inference pool as it is now (after a resize its workers follow within moments). */
  readonly pool: {
    readonly threads: number;
    readonly concurrentTasks: number;
    readonly workers: number;
    readonly busy: number;
  };
  readonly tasks: { readonly running: number; readonly completed: number; readonly failed: number };
  /** The models offered, by name. */
  readonly models: readonly string[];
  readonly advert: AdvertOutcome | undefined;
  readonly ledger:
    | {
        readonly balance: number;
        readonly stake: number;
        readonly reputation: number;
        readonly earned: number;
        /** Unstaked tokens still unbonding: slashable, spendable from `unbondingUntil` (ms since the epoch). */
        readonly unbonding: number;
        readonly unbondingUntil: number | undefined;
      }
    | undefined;
}

export interface NodeWorkerEvents {
  /** Anything in {@link NodeWorkerStatus} changed. */
  status: CustomEvent<NodeWorkerStatus>;
  task: CustomEvent<TaskEvent>;
  advert: CustomEvent<AdvertOutcome>;
  connection: CustomEvent<{ readonly connected: boolean; readonly error?: string }>;
  models: CustomEvent<{
    readonly offered: readonly string[];
    readonly skipped: readonly SkippedModel[];
    readonly downloadedBytes: number;
  }>;
  resources: CustomEvent<{ readonly settings: WorkerSettings; readonly limits: ResourceLimits }>;
  ledger: CustomEvent<{ readonly step: 'onboarded' | 'staked'; readonly amount: number }>;
  warning: CustomEvent<{ readonly message: string }>;
}

export interface NodeWorker extends TypedEventEmitter<NodeWorkerEvents> {
  readonly account: AccountId;
  /** Connects, stakes if needed, fetches models, starts the pool and advertises. */
  start(options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Takes no new tasks, lets running ones finish (up to the grace period), disconnects and ends the pool. */
  stop(): Promise<void>;
  /**
   * Applies `settings` at once: resizes the pool and the task slots, fetches
   * or drops models, and advertises the change. Resolves with the relay's
   * answer to the new advert (undefined while disconnected).
   */
  update(settings: WorkerSettings, options?: { readonly signal?: AbortSignal }): Promise<AdvertOutcome | undefined>;
  settings(): WorkerSettings;
  status(): NodeWorkerStatus;
}

/** Tasks waiting in the pool beyond the running ones: the gate admits only what the pool can take. */
const POOL_QUEUE = 4;

class NodeWorkerImpl extends TypedEventEmitter<NodeWorkerEvents> implements NodeWorker {
  readonly account: AccountId;
  readonly #init: NodeWorkerInit;
  readonly #client: AIComputeClient;
  readonly #verifier: Ed25519Verifier;
  readonly #cache: ModelCache;
  readonly #stopping = new AbortController();
  #state: NodeWorkerState = 'idle';
  #settings: WorkerSettings;
  #device: DeviceTotals = { cores: 1, memoryBytes: 0, storageBytes: 0, gpuMemoryBytes: 0 };
  #limits: ResourceLimits;
  #network: AccountId | undefined;
  #relayAddrs: Multiaddr[] = [];
  #catalogue: Catalogue = { v: 1, models: [] };
  #offered: readonly ModelEntry[] = [];
  #pool: InferencePool | undefined;
  #gate: TaskGate | undefined;
  #session: WorkerSession | undefined;
  #advert: AdvertOutcome | undefined;
  #tasks = { completed: 0, failed: 0 };
  #ledger: NodeWorkerStatus['ledger'];
  #startBalance = 0;
  readonly #timers = new Set<ReturnType<typeof setInterval>>();

  constructor(init: NodeWorkerInit) {
    super();
    this.#init = init;
    this.account = init.key.signer.accountId;
    this.#settings = init.settings ?? DEFAULT_WORKER_SETTINGS;
    this.#verifier = init.verifier ?? createNodeVerifier();
    this.#client = new AIComputeClient({
      relayUrl: init.relayUrl,
      signer: init.key.signer,
      verifier: this.#verifier,
      ...(init.pinnedRelay === undefined ? {} : { pinnedRelay: init.pinnedRelay }),
      ...(init.fetch === undefined ? {} : { fetch: init.fetch }),
    });
    this.#cache = createModelCache({
      dir: join(this.#dataDir(), 'models'),
      relayUrl: init.relayUrl,
      ...(init.fetch === undefined ? {} : { fetch: init.fetch }),
    });
    this.#limits = limitsFor(this.#settings.allocation, this.#device);
  }

  #dataDir(): string {
    return this.#init.dataDir ?? DEFAULT_WORKER_DATA_DIR;
  }

  #emit<K extends keyof NodeWorkerEvents>(type: K, detail: NodeWorkerEvents[K]['detail']): void {
    this.safeDispatchEvent(type, { detail });
    if (type !== 'status') this.safeDispatchEvent('status', { detail: this.status() });
  }

  #warn(message: string): void {
    this.#emit('warning', { message });
  }

  async start(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state !== 'idle')
      throw new WorkerSessionStartedError(`the worker was started already (it is ${this.#state})`);
    this.#state = 'starting';
    const signal =
      options.signal === undefined ? this.#stopping.signal : AbortSignal.any([options.signal, this.#stopping.signal]);
    try {
      const network = await this.#client.network({ signal });
      this.#network = network;
      const bootstrap = await fetchBootstrap(this.#init.relayUrl, {
        signal,
        ...(this.#init.fetch === undefined ? {} : { fetch: this.#init.fetch }),
      });
      if (bootstrap.peerId !== network) {
        throw new RelayIdentityError(`the relay's libp2p identity ${bootstrap.peerId} is not network ${network}`);
      }
      const relay = peerIdFromString(bootstrap.peerId);
      this.#relayAddrs = relayMultiaddrs(this.#init.relayUrl, bootstrap);
      const stake = this.#init.stake ?? DEFAULT_LEDGER_PARAMS.minWorkerStake;
      const balance = await ensureStake(this.#client, {
        publicKey: this.#init.key.signer.publicKey,
        stake,
        signal,
        onStep: (step) => {
          this.#emit('ledger', step);
        },
      });
      this.#startBalance = balance.balance;
      this.#setLedger(balance);

      this.#device = await this.#measureDevice();
      this.#limits = limitsFor(this.#settings.allocation, this.#device);
      this.#catalogue = await this.#client.models({ signal });
      const pool = createInferencePool({
        modelsDir: this.#cache.dir,
        catalogue: () => Promise.resolve({ v: 1, models: [...this.#offered] }),
        limits: this.#poolLimits(),
        maxQueued: POOL_QUEUE,
        log: {
          info: () => undefined,
          warn: (_details, message) => {
            this.#warn(message);
          },
        },
      });
      this.#pool = pool;
      this.#gate = createTaskGate({
        concurrency: this.#limits.concurrentTasks,
        dutyCycle: this.#limits.dutyCycle,
      });
      this.#session = this.#createSession(network, relay, this.#gate, pool);
      await this.#chooseModels(signal);
      await pool.start();
      this.#emit('resources', { settings: this.#settings, limits: this.#limits });
      await this.#session.start({ signal });
      this.#every(this.#init.balanceIntervalMs ?? 10_000, () => this.#refreshBalance());
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  #createSession(network: AccountId, relay: PeerId, gate: TaskGate, pool: InferencePool): WorkerSession {
    return createWorkerSession({
      signer: this.#init.key.signer,
      verifier: this.#verifier,
      network,
      relay,
      connect: (options) => this.#connect(options),
      advert: () => ({
        models: this.#offered.map((entry) => entry.id),
        backend: 'native',
        allocation: this.#settings.allocation,
        pricePerUnit: this.#settings.pricePerUnit,
      }),
      prepare: createTaskRunner({
        pool,
        offers: (model: ModelId) => this.#offered.some((entry) => entry.id === model),
      }),
      slots: gate,
      ...(this.#init.advertIntervalMs === undefined ? {} : { advertIntervalMs: this.#init.advertIntervalMs }),
      ...(this.#init.maxReconnectDelayMs === undefined ? {} : { maxReconnectDelayMs: this.#init.maxReconnectDelayMs }),
      ...(this.#init.stopGraceMs === undefined ? {} : { stopGraceMs: this.#init.stopGraceMs }),
      onState: (state) => {
        const stopping = this.#state === 'stopping' || this.#state === 'stopped';
        if (!stopping && (state === 'connecting' || state === 'online')) this.#state = state;
      },
      onConnection: ({ connected, error }) => {
        this.#emit('connection', { connected, ...(error === undefined ? {} : { error }) });
      },
      onAdvert: (outcome) => {
        this.#advert = { ...outcome, limits: this.#limits };
        this.#emit('advert', this.#advert);
      },
      onTask: (event) => {
        this.#onTask(event);
      },
      onWarning: (message) => {
        this.#warn(message);
      },
    });
  }

  /** A fresh libp2p node for each attempt; after a failed one, the relay's addresses are read again first. */
  async #connect({ signal, attempt, setup }: WorkerConnectOptions): Promise<WorkerSessionNode> {
    if (attempt > 0) await this.#refreshRelayAddrs(signal);
    const node = await createWorkerLibp2p({
      privateKey: this.#init.key.privateKey,
      relayAddrs: this.#relayAddrs,
      webrtc: this.#init.webrtc ?? true,
      debug: this.#init.debugLibp2p ?? false,
    });
    await setup(node);
    await node.start();
    // Starting reserves on the relay (and so connects) when WebRTC is on; otherwise this dial connects.
    await node.dial([...this.#relayAddrs], { signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) });
    return node;
  }

  async #measureDevice(): Promise<DeviceTotals> {
    const given = this.#init.device ?? {};
    let storageBytes = given.storageBytes;
    if (storageBytes === undefined) {
      await mkdir(this.#dataDir(), { recursive: true, mode: 0o700 });
      const fs = await statfs(this.#dataDir()).catch(() => undefined);
      storageBytes = (fs === undefined ? 0 : fs.bavail * fs.bsize) + (await this.#cache.usage());
    }
    return {
      cores: given.cores ?? availableParallelism(),
      memoryBytes: given.memoryBytes ?? totalmem(),
      storageBytes,
      gpuMemoryBytes: given.gpuMemoryBytes ?? 0,
    };
  }

  #poolLimits(): { threads: number; concurrentTasks: number; memoryBytes: number } {
    return {
      threads: this.#limits.threads,
      concurrentTasks: this.#limits.concurrentTasks,
      memoryBytes: this.#limits.memoryBytes,
    };
  }

  #every(ms: number, run: () => Promise<void>): void {
    const timer = setInterval(() => {
      run().catch((error: unknown) => {
        this.#warn(error instanceof Error ? error.message : String(error));
      });
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Picks the models for the current settings, downloads what is missing and drops the rest from disk. */
  async #chooseModels(signal: AbortSignal): Promise<void> {
    const selection = selectModels({
      catalogue: this.#catalogue,
      wanted: this.#settings.models,
      preset: this.#settings.allocation.preset,
      pricePerUnit: this.#settings.pricePerUnit,
      storageBytes: this.#limits.storageBytes,
    });
    let downloadedBytes = 0;
    const ready: ModelEntry[] = [];
    for (const entry of selection.models) {
      try {
        downloadedBytes += await this.#cache.ensure(entry, { signal });
        ready.push(entry);
      } catch (error) {
        if (signal.aborted) throw error;
        this.#warn(`model ${entry.name} is not offered: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.#offered = ready;
    const keep = new Set<Hash>(ready.flatMap((entry) => modelFiles(entry).map((file) => file.id)));
    await this.#cache.prune(keep);
    if (ready.length === 0) this.#warn('no model to offer with these settings: the relay will send no tasks');
    this.#emit('models', {
      offered: ready.map((entry) => entry.name),
      skipped: selection.skipped,
      downloadedBytes,
    });
  }

  /** A relay that restarted may listen elsewhere; its address from the worker's URL stays first. */
  async #refreshRelayAddrs(signal: AbortSignal): Promise<void> {
    const bootstrap = await fetchBootstrap(this.#init.relayUrl, {
      signal,
      ...(this.#init.fetch === undefined ? {} : { fetch: this.#init.fetch }),
    }).catch(() => undefined);
    if (bootstrap === undefined) return;
    if (bootstrap.peerId !== this.#network) {
      throw new RelayIdentityError(`the relay's libp2p identity is now ${bootstrap.peerId}, not ${this.#network}`);
    }
    this.#relayAddrs = relayMultiaddrs(this.#init.relayUrl, bootstrap);
  }

  #onTask(event: TaskEvent): void {
    if (event.phase === 'done') {
      this.#tasks.completed++;
      // The relay settles as soon as it has the receipt; read the new balance shortly after.
      setTimeout(() => {
        void this.#refreshBalance().catch(() => undefined);
      }, 500).unref();
    }
    if (event.phase === 'failed') this.#tasks.failed++;
    this.#emit('task', event);
  }

  async #refreshBalance(): Promise<void> {
    this.#setLedger(await this.#client.balance(undefined, { signal: this.#stopping.signal }));
  }

  #setLedger(balance: Pick<AccountBalance, 'balance' | 'stake' | 'reputation' | 'unbonding'>): void {
    const unbonding = balance.unbonding ?? [];
    const next = {
      balance: balance.balance,
      stake: balance.stake,
      reputation: balance.reputation,
      earned: balance.balance - this.#startBalance,
      unbonding: unbonding.reduce((sum, u) => sum + u.amount, 0),
      unbondingUntil: unbonding.length === 0 ? undefined : Math.max(...unbonding.map((u) => u.releaseAt)),
    };
    const before = this.#ledger;
    this.#ledger = next;
    if (before?.balance !== next.balance || before.stake !== next.stake || before.unbonding !== next.unbonding) {
      this.safeDispatchEvent('status', { detail: this.status() });
    }
  }

  async update(
    settings: WorkerSettings,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<AdvertOutcome | undefined> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      throw new WorkerSessionStoppedError('the worker is stopped');
    }
    const signal =
      options.signal === undefined ? this.#stopping.signal : AbortSignal.any([options.signal, this.#stopping.signal]);
    const before = this.#settings;
    this.#settings = settings;
    this.#limits = limitsFor(settings.allocation, this.#device);
    this.#pool?.resize(this.#poolLimits());
    this.#session?.resize({ concurrency: this.#limits.concurrentTasks, dutyCycle: this.#limits.dutyCycle });
    this.#emit('resources', { settings, limits: this.#limits });
    if (this.#pool !== undefined) {
      const modelsMayChange =
        before.models !== settings.models ||
        before.pricePerUnit !== settings.pricePerUnit ||
        before.allocation.preset !== settings.allocation.preset ||
        before.allocation.storage !== settings.allocation.storage;
      if (modelsMayChange) {
        this.#catalogue = await this.#client.models({ signal }).catch(() => this.#catalogue);
        await this.#chooseModels(signal);
      }
    }
    const outcome = await this.#session?.advertise();
    if (outcome === undefined) return undefined;
    return this.#advert?.seq === outcome.seq ? this.#advert : { ...outcome, limits: this.#limits };
  }

  settings(): WorkerSettings {
    return this.#settings;
  }

  status(): NodeWorkerStatus {
    const pool = this.#pool?.stats();
    const session = this.#session?.status();
    return {
      state: this.#state,
      account: this.account,
      relay: {
        peerId: this.#network,
        connected: session?.connected ?? false,
        peers: session?.peers ?? 0,
        webrtcAddrs: session?.webrtcAddrs ?? [],
      },
      settings: this.#settings,
      device: this.#device,
      limits: this.#limits,
      pool: {
        threads: pool?.threads ?? this.#limits.threads,
        concurrentTasks: pool?.concurrentTasks ?? this.#limits.concurrentTasks,
        workers: pool?.workers ?? 0,
        busy: pool?.busy ?? 0,
      },
      tasks: { running: this.#gate?.stats().running ?? 0, ...this.#tasks },
      models: this.#offered.map((entry) => entry.name),
      advert: this.#advert,
      ledger: this.#ledger,
    };
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    // The session lets running tasks finish (and be paid) within the grace period, then disconnects.
    await this.#session?.stop();
    this.#stopping.abort(new WorkerSessionStoppedError('the worker is stopping'));
    await this.#pool?.stop();
    this.#state = 'stopped';
    this.safeDispatchEvent('status', { detail: this.status() });
  }
}

/** Creates the worker; nothing runs before `start()`. */
export function createNodeWorker(init: NodeWorkerInit): NodeWorker {
  return new NodeWorkerImpl(init);
}
