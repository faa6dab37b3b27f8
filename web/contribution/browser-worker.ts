/**
 * Browser worker mode: this tab contributes its compute to the relay's
 * network and is paid for it, as `npm run worker` does from a terminal.
 *
 * `start()` checks the relay's libp2p identity is the network the app is
 * pinned to, stakes what the account lacks (a `tx/stake` signed by the
 * account key through the SDK), picks the phone-class models it can run and
 * fetches them into the model store (hash-checked), starts a libp2p node
 * whose identity is the account key (WebSockets to the relay, a circuit
 * reservation there and WebRTC listening through it), answers tasks on
 * `/acn/task/1.0.0` and sends a signed advert.
 *
 * The allocation applies live with `update()`: thread count and WebGPU go to
 * the inference Web Workers (restarted when they change, see
 * inference-workers.ts), the concurrency and duty cycle to the task slots,
 * and a new advert (higher `seq`) tells the relay. While paused (tab hidden,
 * on battery) the worker refuses tasks and advertises no models, so the
 * scheduler sends it none; it advertises them again when it resumes.
 *
 * The advert, admission, answering, receipts, renewal and reconnection are
 * the worker session every desktop worker runs
 * (shared/client/worker-session/worker-session.ts); this is its browser
 * adapter: the browser's libp2p node, Web Worker inference, the IndexedDB
 * model store, pausing while hidden or on battery, staking and the earnings.
 */
import type { Multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import * as v from 'valibot';
import type { AccountId, ModelId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { DEFAULT_LEDGER_PARAMS } from '#core/ledger/genesis.ts';
import { MAX_ADVERT_MODELS } from '#core/messages/worker-advert.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { WireError } from '#client/p2p/task-protocol.ts';
import { WorkerSessionStoppedError } from '#client/worker-session/errors.ts';
import { createWorkerSession, type WorkerSession } from '#client/worker-session/worker-session.ts';
import {
  limitsFor,
  type DeviceTotals,
  type ResourceAllocation,
  type ResourceLimits,
} from '#core/resources/allocation.ts';
import type { AccountBalance, AIComputeClient } from '#client/sdk/index.ts';
import { createModelStore } from '#browser-storage/model-store.ts';
import { createBrowserNode } from '../p2p/create-browser-node.ts';
import { relayMultiaddrOf } from '../p2p/direct-task.ts';
import { RelayIdentityError, StakeUnavailableError } from './errors.ts';
import { createInferenceWorkers, type InferenceWorkers } from './inference-workers.ts';
import { watchPause, type PauseReason, type PauseWatch } from './pause-watch.ts';
import { signerPrivateKey } from './signer-private-key.ts';
import { createTaskHandler, type TaskEvent } from './task-handler.ts';
import { createTaskSlots, type TaskSlots } from './task-slots.ts';

export type BrowserWorkerState = 'starting' | 'staking' | 'connecting' | 'online' | 'stopped' | 'failed';

/** Kept here too: the worker's callers found it here first. */
export { relayMultiaddrOf };

export interface BrowserWorkerSettings {
  readonly allocation: ResourceAllocation;
  /** Keep taking tasks while hidden or on battery, whatever the allocation's pause rules say. */
  readonly keepRunning: boolean;
}

export interface BrowserWorkerStatus {
  readonly state: BrowserWorkerState;
  readonly account: AccountId;
  readonly connected: boolean;
  /** Why no task is taken now, or undefined. */
  readonly paused: PauseReason | undefined;
  /** What went wrong (state `failed`, or a warning while running). */
  readonly error: { readonly code: string; readonly message: string } | undefined;
  readonly limits: ResourceLimits;
  /** WebGPU in use for new tasks (the GPU share allows it and the device has an adapter). */
  readonly webgpu: boolean;
  /** Threads onnxruntime ran the last task with (1 without cross-origin isolation). */
  readonly lastTaskThreads: number | undefined;
  /** Inference Web Workers started so far (each settings change of threads or GPU starts new ones). */
  readonly inferenceWorkersStarted: number;
  /** onnxruntime is up with the settings now (false while a worker with new ones warms up). */
  readonly inferenceReady: boolean;
  readonly tasks: { readonly running: number; readonly done: number; readonly failed: number };
  readonly models: readonly string[];
  readonly advert:
    | { readonly seq: number; readonly ok: boolean; readonly error: WireError | undefined; readonly models: number }
    | undefined;
  readonly balance: number | undefined;
  readonly stake: number | undefined;
  /** Unstaked tokens still unbonding (slashable, not yet spendable), with their release times. */
  readonly unbonding: AccountBalance['unbonding'];
  /** Balance now minus the balance once staked: what the tasks paid. */
  readonly earned: number;
}

export interface BrowserWorkerInit {
  /** The relay's base URL (the app's origin). */
  readonly relayUrl: string;
  /** The SDK client signing as the account (AppServices.client). */
  readonly client: AIComputeClient;
  /** The account key (AppServices.key.signer): the libp2p identity, and signs adverts and receipts. */
  readonly signer: Signer;
  readonly settings: BrowserWorkerSettings;
  readonly device: DeviceTotals;
  /** Stake to hold. Default the protocol's default minimum (10,000): the relay does not publish its own. */
  readonly stake?: number;
  /** Asking price per unit; models priced below it are not offered. Default 1. */
  readonly pricePerUnit?: number;
  /** How often the advert is renewed (the relay forgets one after 60 s). Default 20 s. */
  readonly advertIntervalMs?: number;
  /** How often the balance is read. Default 10 s. */
  readonly balanceIntervalMs?: number;
  readonly onStatus?: (status: BrowserWorkerStatus) => void;
}

export interface BrowserWorker {
  start(options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** New allocation or override, at once; resolves once the relay answered the new advert. */
  update(settings: BrowserWorkerSettings): Promise<void>;
  stop(): Promise<void>;
  status(): BrowserWorkerStatus;
}

/** How long switching off lets running tasks finish. */
const STOP_GRACE_MS = 5000;

const bootstrapSchema = v.object({ peerId: v.string(), multiaddrs: v.array(v.string()) });

export function createBrowserWorker(init: BrowserWorkerInit): BrowserWorker {
  const stopping = new AbortController();
  const pricePerUnit = init.pricePerUnit ?? 1;
  let settings = init.settings;
  let limits = limitsFor(settings.allocation, init.device);
  let state: BrowserWorkerState = 'starting';
  let error: BrowserWorkerStatus['error'];
  let network: AccountId | undefined;
  let relayAddr: Multiaddr | undefined;
  let offered: readonly ModelEntry[] = [];
  let webgpuAdapter = false;
  let inference: InferenceWorkers | undefined;
  let slots: TaskSlots | undefined;
  let session: WorkerSession | undefined;
  let pause: PauseWatch | undefined;
  let advert: BrowserWorkerStatus['advert'];
  const tasks = { done: 0, failed: 0 };
  let lastTaskThreads: number | undefined;
  let ledger: AccountBalance | undefined;
  let startBalance: number | undefined;
  const timers: ReturnType<typeof setInterval>[] = [];

  /** A model's bytes, with its assets. */
  const sizeOf = (entry: ModelEntry): number => entry.bytes + entry.assets.reduce((sum, asset) => sum + asset.bytes, 0);
  /** Each inference Web Worker keeps one model loaded: one per concurrent task must fit the memory share. */
  const fitsMemory = (entry: ModelEntry): boolean =>
    sizeOf(entry) * Math.max(1, limits.concurrentTasks) <= limits.memoryBytes;
  /** WebGPU when the GPU share allows it, there is an adapter, and every offered model fits the GPU's share. */
  const webgpu = (): boolean =>
    limits.gpu.enabled && webgpuAdapter && offered.every((entry) => sizeOf(entry) <= limits.gpu.maxModelBytes);
  const inferenceSettings = () => ({ threads: limits.threads, webgpu: webgpu(), concurrency: limits.concurrentTasks });

  function status(): BrowserWorkerStatus {
    return {
      state,
      account: init.signer.accountId,
      connected: session?.status().connected ?? false,
      paused: pause?.reason(),
      error,
      limits,
      webgpu: webgpu(),
      lastTaskThreads,
      inferenceWorkersStarted: inference?.stats().started ?? 0,
      inferenceReady: inference !== undefined && !inference.warming,
      tasks: { running: slots?.running ?? 0, ...tasks },
      models: offered.map((entry) => entry.name),
      advert,
      balance: ledger?.balance,
      stake: ledger?.stake,
      unbonding: ledger?.unbonding,
      earned: ledger === undefined || startBalance === undefined ? 0 : ledger.balance - startBalance,
    };
  }
  const emit = (): void => {
    init.onStatus?.(status());
  };

  async function ensureStake(signal: AbortSignal): Promise<void> {
    const stake = init.stake ?? DEFAULT_LEDGER_PARAMS.minWorkerStake;
    let balance = await init.client.balance(undefined, { signal });
    if (balance.stake < stake) {
      const missing = stake - balance.stake;
      if (missing > balance.balance) {
        throw new StakeUnavailableError(
          missing - balance.balance,
          `Contributing needs ${stake} tokens staked; this account holds ${balance.balance} and has ${balance.stake} ` +
            `staked. ${missing - balance.balance} more tokens are needed.`,
        );
      }
      await init.client.stake(missing, { signal });
      balance = await init.client.balance(undefined, { signal });
    }
    ledger = balance;
    startBalance = balance.balance;
  }

  /** Phone-class models this tab can run at the asking price, within the storage and memory shares. */
  function chooseModels(catalogue: Catalogue): ModelEntry[] {
    const chosen: ModelEntry[] = [];
    let bytes = 0;
    for (const entry of catalogue.models) {
      if (entry.sizeClass !== 'phone' || entry.price.perUnit < pricePerUnit) continue;
      if (pipelineFor(entry.pre) === undefined || entry.post !== entry.pre || !fitsMemory(entry)) continue;
      const size = sizeOf(entry);
      if (bytes + size > limits.storageBytes || chosen.length >= MAX_ADVERT_MODELS) continue;
      bytes += size;
      chosen.push(entry);
    }
    return chosen;
  }

  async function fetchModels(entries: readonly ModelEntry[], signal: AbortSignal): Promise<ModelEntry[]> {
    const store = createModelStore({ baseUrl: new URL('models/', base(init.relayUrl)).href });
    const ready: ModelEntry[] = [];
    for (const entry of entries) {
      try {
        for (const file of [{ id: entry.id, bytes: entry.bytes }, ...entry.assets]) {
          await store.fetch(file.id, { size: file.bytes, signal });
        }
        ready.push(entry);
      } catch (cause) {
        if (signal.aborted) throw cause;
        error = { code: 'model-unavailable', message: `${entry.name} is not offered: ${messageOf(cause)}` };
      }
    }
    return ready;
  }

  function onTask(event: TaskEvent): void {
    if (event.phase === 'done') {
      tasks.done++;
      lastTaskThreads = event.threads;
      // The relay settles once it has the receipt; read the new balance shortly after.
      setTimeout(() => void refreshBalance(), 800);
    } else if (event.phase === 'failed') {
      tasks.failed++;
    }
    emit();
  }

  async function refreshBalance(): Promise<void> {
    try {
      ledger = await init.client.balance(undefined, { signal: stopping.signal });
      emit();
    } catch {
      // Shown again on the next read.
    }
  }

  /** The session over this tab's libp2p node, its Web Workers and its pause rules. */
  function createSession(net: AccountId, relay: Multiaddr, taskSlots: TaskSlots): WorkerSession {
    return createWorkerSession({
      signer: init.signer,
      verifier: nobleVerifier,
      network: net,
      relay: peerIdFromString(net),
      connect: async ({ signal, setup }) => {
        const created = await createBrowserNode({
          relayMultiaddr: relay,
          privateKey: signerPrivateKey(init.signer),
          listen: true,
          signal: AbortSignal.any([signal, AbortSignal.timeout(20_000)]),
        });
        await setup(created);
        return created;
      },
      // Paused: no models, so the scheduler picks this worker for nothing until it resumes.
      advert: () => ({
        models: pause?.reason() === undefined ? offered.map((entry) => entry.id) : [],
        backend: webgpu() ? 'webgpu' : 'wasm',
        allocation: settings.allocation,
        pricePerUnit,
      }),
      prepare: createTaskHandler({
        offered: (model: ModelId) => offered.find((entry) => entry.id === model),
        pausedReason: () => pause?.reason(),
        infer: (entry, input, options) => {
          if (inference === undefined) throw new Error('internal: no inference workers');
          return inference.run(entry, input, options);
        },
      }),
      slots: taskSlots,
      // A tab that cannot reach its relay at first says so; one that loses it later keeps trying.
      retryFirstConnect: false,
      reconnectDelayMs: 1000,
      stopGraceMs: STOP_GRACE_MS,
      maxInboundStreams: 32,
      ...(init.advertIntervalMs === undefined ? {} : { advertIntervalMs: init.advertIntervalMs }),
      onState: (next) => {
        if (state === 'stopped' || state === 'failed') return;
        if (next === 'connecting' || next === 'online') {
          state = next;
          emit();
        }
      },
      onConnection: (event) => {
        if (event.connected) {
          if (error?.code === 'disconnected' || error?.code === 'unreachable') error = undefined;
        } else if (event.reason === 'closed') {
          error = { code: 'disconnected', message: 'the relay connection closed; reconnecting' };
        } else {
          error = { code: 'unreachable', message: event.error ?? 'the relay is unreachable' };
        }
        emit();
      },
      onAdvert: (outcome) => {
        advert = { seq: outcome.seq, ok: outcome.ok, error: outcome.error, models: outcome.payload.models.length };
        emit();
      },
      onTask,
    });
  }

  async function start(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal === undefined ? stopping.signal : AbortSignal.any([options.signal, stopping.signal]);
    try {
      network = await init.client.network({ signal });
      const response = await fetch(new URL('api/network/bootstrap', base(init.relayUrl)), { signal });
      const bootstrap = v.parse(bootstrapSchema, await response.json());
      if (bootstrap.peerId !== network) {
        throw new RelayIdentityError(`the relay's libp2p identity ${bootstrap.peerId} is not network ${network}`);
      }
      relayAddr = relayMultiaddrOf(init.relayUrl, bootstrap.peerId);
      state = 'staking';
      emit();
      await ensureStake(signal);
      webgpuAdapter = await hasWebGpuAdapter();
      offered = await fetchModels(chooseModels(await init.client.models({ signal })), signal);
      inference = createInferenceWorkers({
        ...inferenceSettings(),
        modelBaseUrl: new URL('models/', base(init.relayUrl)).href,
        ortBaseUrl: new URL('ort/', base(init.relayUrl)).href,
      });
      slots = createTaskSlots({ concurrency: limits.concurrentTasks, dutyCycle: limits.dutyCycle });
      session = createSession(network, relayAddr, slots);
      await warmInference();
      pause = watchPause(pauseRules(), () => {
        emit();
        void session?.advertise();
      });
      await session.start({ signal });
      timers.push(setInterval(() => void refreshBalance(), init.balanceIntervalMs ?? 10_000));
    } catch (cause) {
      await stop();
      state = 'failed';
      const code = (cause as { code?: unknown } | undefined)?.code;
      error = { code: typeof code === 'string' ? code : 'start-failed', message: messageOf(cause) };
      emit();
      throw cause;
    }
  }

  /** Has onnxruntime started with the settings now before tasks come (see InferenceWorkers.warm). */
  async function warmInference(): Promise<void> {
    const [first] = offered;
    if (first !== undefined) await inference?.warm(first);
    emit();
  }

  const pauseRules = () => ({
    pauseWhenHidden: settings.allocation.pauseWhenHidden,
    pauseOnBattery: settings.allocation.pauseOnBattery,
    keepRunning: settings.keepRunning,
  });

  async function stop(): Promise<void> {
    if (state === 'stopped') return;
    state = 'stopped';
    for (const timer of timers.splice(0)) clearInterval(timer);
    pause?.stop();
    // No new tasks; running ones get a moment to be answered (and paid) before the node goes.
    await session?.stop();
    const reason = new WorkerSessionStoppedError('contributing was switched off');
    stopping.abort(reason);
    slots?.close(reason);
    inference?.stop();
    emit();
  }

  return {
    start,
    stop,
    status,
    async update(next) {
      if (state === 'stopped' || state === 'failed') return;
      settings = next;
      limits = limitsFor(next.allocation, init.device);
      // A smaller memory share withdraws the models that no longer fit (a larger one offers more after a restart).
      offered = offered.filter(fitsMemory);
      const before = inference?.settings;
      inference?.configure(inferenceSettings());
      if (before !== undefined && (before.threads !== limits.threads || before.webgpu !== webgpu())) {
        void warmInference();
      }
      session?.resize({ concurrency: limits.concurrentTasks, dutyCycle: limits.dutyCycle });
      pause?.setRules(pauseRules());
      emit();
      await session?.advertise();
    },
  };
}

function base(relayUrl: string): string {
  const url = new URL(relayUrl, globalThis.location.href);
  url.hash = '';
  url.search = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

async function hasWebGpuAdapter(): Promise<boolean> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (gpu === undefined) return false;
  return (await gpu.requestAdapter().catch(() => null)) !== null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
