/**
 * One desktop worker's session with its relay, the same in Node and in a
 * browser tab: connect (through the platform's libp2p node, passed in),
 * answer tasks on `/acn/task/1.0.0` within the task slots and sign their
 * receipts (task-answerer.ts), sign and send adverts on `/acn/advert/1.0.0`
 * and renew them before the relay's 60 s expiry, apply new limits at once,
 * reconnect with backoff when the relay connection drops, and let running
 * tasks finish when stopping.
 *
 * What differs between the platforms stays with their adapters
 * (relay/worker/node-worker.ts, web/contribution/browser-worker.ts): how the
 * node is made and reaches the relay, which models are offered and how a task
 * runs (`prepare`), what the advert says (`advert`), staking and balances.
 */
import type {
  AbortOptions,
  Connection,
  Libp2pEvents,
  PeerId,
  Stream,
  StreamHandler,
  StreamHandlerOptions,
  TypedEventTarget,
} from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, ModelId } from '#core/identity/ids.ts';
import type { Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { MAX_ADVERT_ADDRS, type WorkerAdvertPayload } from '#core/messages/worker-advert.ts';
import type { ResourceAllocation } from '#core/resources/allocation.ts';
import {
  ADVERT_PROTOCOL,
  MAX_ADVERT_MESSAGE_BYTES,
  TASK_PROTOCOL,
  messageChannel,
  parseAdvertAnswer,
  type WireError,
} from '#client/p2p/task-protocol.ts';
import {
  InvalidAdvertAnswerError,
  RelayConnectionLostError,
  WorkerSessionStartedError,
  WorkerSessionStoppedError,
} from './errors.ts';
import { webrtcAddresses } from '../p2p/webrtc-addresses.ts';
import { systemClock, type SessionClock } from './session-clock.ts';
import { createTaskAnswerer, type TaskAnswererInit, type TaskEvent } from './task-answerer.ts';
import type { TaskSlotLimits, TaskSlots } from './task-slots.ts';

/** The part of a libp2p node the session uses; a js-libp2p `Libp2p` is one. */
export interface WorkerSessionNode extends TypedEventTarget<
  Pick<Libp2pEvents, 'peer:disconnect' | 'self:peer:update'>
> {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
  unhandle(protocol: string): Promise<void>;
  dialProtocol(peer: PeerId, protocol: string, options?: AbortOptions): Promise<Stream>;
  getConnections(peer?: PeerId): Connection[];
  getPeers(): PeerId[];
  getMultiaddrs(): Multiaddr[];
  stop(): void | Promise<void>;
}

/** What the session hands the platform's `connect`. */
export interface WorkerConnectOptions {
  readonly signal: AbortSignal;
  /** 0 for the first attempt of a connection, then 1, 2, … while attempts keep failing. */
  readonly attempt: number;
  /**
   * Puts the session's task handler and relay listeners on `node`. Call it
   * before the node starts where the platform allows, so that no task and no
   * disconnection is missed; the session calls it once `connect` resolves
   * when it was not called. A node given to it is stopped when the attempt fails.
   */
  readonly setup: (node: WorkerSessionNode) => Promise<void>;
}

/** What an advert says besides the network, the addresses and the sequence. */
export interface AdvertContent {
  /** The models offered now (none while paused: the scheduler then sends nothing). */
  readonly models: readonly ModelId[];
  readonly backend: WorkerAdvertPayload['backend'];
  readonly allocation: ResourceAllocation;
  readonly pricePerUnit: number;
}

/** The relay's answer to one advert. */
export interface AdvertOutcome {
  readonly seq: number;
  readonly ok: boolean;
  /** Why the relay refused it, or `unreachable` when it could not be asked. */
  readonly error: WireError | undefined;
  readonly payload: WorkerAdvertPayload;
}

/** The relay connection came up or went down. */
export interface WorkerConnectionEvent {
  readonly connected: boolean;
  /** Down because the connection closed, or because an attempt to connect failed. */
  readonly reason?: 'closed' | 'unreachable';
  readonly error?: string;
}

export type WorkerSessionState = 'idle' | 'connecting' | 'online' | 'stopping' | 'stopped';

export interface WorkerSessionStatus {
  readonly state: WorkerSessionState;
  /** A connection to the relay is open now. */
  readonly connected: boolean;
  /** libp2p peers connected now (the relay, and clients over WebRTC). */
  readonly peers: number;
  /** The node's WebRTC addresses through the relay, as the advert lists them. */
  readonly webrtcAddrs: readonly string[];
  /** Tasks running now. */
  readonly running: number;
  /** The relay's answer to the latest advert. */
  readonly advert: AdvertOutcome | undefined;
}

export interface WorkerSessionInit {
  /** The worker's account key: signs adverts and receipts. */
  readonly signer: Signer;
  /** Checks the tasks' signatures and the relay's assignments. */
  readonly verifier: Ed25519Verifier;
  /** The network id (the relay's account) adverts, tasks and receipts name. */
  readonly network: AccountId;
  /** The relay's PeerId: where adverts go; its tasks need no assignment. */
  readonly relay: PeerId;
  /** Makes the platform's libp2p node and connects it to the relay (see {@link WorkerConnectOptions}). */
  readonly connect: (options: WorkerConnectOptions) => Promise<WorkerSessionNode>;
  /** What the next advert says; read each time one is sent. */
  readonly advert: () => AdvertContent;
  /** The platform's checks of a task and how to run it (see {@link TaskAnswererInit.prepare}). */
  readonly prepare: TaskAnswererInit['prepare'];
  /** Admission of tasks; {@link WorkerSession.resize} resizes them. */
  readonly slots: TaskSlots;
  /**
   * Take tasks that requesters send directly over WebRTC with the relay's
   * assignment naming this account. Default true.
   */
  readonly direct?: boolean;
  /** Default {@link systemClock}. */
  readonly clock?: SessionClock;
  /** How often the advert is renewed (the relay forgets one after 60 s). Default 20 s. */
  readonly advertIntervalMs?: number;
  /** How long the relay may take to answer an advert. Default 10 s. */
  readonly advertTimeoutMs?: number;
  /** The first wait after a failed connection attempt; each next one doubles. Default 500 ms. */
  readonly reconnectDelayMs?: number;
  /** Longest wait between connection attempts. Default 30 s. */
  readonly maxReconnectDelayMs?: number;
  /**
   * Keep trying when the first connection fails (true), or make `start()`
   * reject with its error (false). Connections lost later are always retried.
   * Default true.
   */
  readonly retryFirstConnect?: boolean;
  /** How long `stop()` lets running tasks finish. Default 10 s. */
  readonly stopGraceMs?: number;
  /** Task streams open at once on one connection. Default 64. */
  readonly maxInboundStreams?: number;
  /** How long the relay may take to send a task request. Default 30 s (see task-answerer.ts). */
  readonly readTimeoutMs?: number;
  /** How long a direct requester may take to send its request. Default 3 s (see task-answerer.ts). */
  readonly directReadTimeoutMs?: number;
  /** A task started, was done (answered with a receipt) or failed. */
  readonly onTask?: (event: TaskEvent) => void;
  /** The relay answered an advert (or could not be asked). */
  readonly onAdvert?: (outcome: AdvertOutcome) => void;
  readonly onConnection?: (event: WorkerConnectionEvent) => void;
  /** The state in {@link WorkerSessionStatus} changed. */
  readonly onState?: (state: WorkerSessionState) => void;
  /** Something failed that the session carries on after (a renewal that could not be signed). */
  readonly onWarning?: (message: string) => void;
}

export interface WorkerSession {
  /**
   * Connects to the relay and sends the first advert, then renews it.
   * Resolves once online; rejects when `signal` or `stop()` aborts it, or
   * with the connection's error when `retryFirstConnect` is false.
   */
  start(options?: AbortOptions): Promise<void>;
  /**
   * Takes no new tasks, lets running ones finish (up to `stopGraceMs`), then
   * aborts the rest, refuses waiting ones and stops the node.
   */
  stop(): Promise<void>;
  /**
   * Signs and sends an advert of what {@link WorkerSessionInit.advert} says
   * now; one at a time, so `seq` order is the order of changes. Resolves with
   * the relay's answer, or undefined while not online.
   */
  advertise(): Promise<AdvertOutcome | undefined>;
  /** New limits for the task slots, at once (running tasks are never cut short). */
  resize(limits: TaskSlotLimits): void;
  status(): WorkerSessionStatus;
}

/** Creates the session; nothing runs before `start()`. */
export function createWorkerSession(init: WorkerSessionInit): WorkerSession {
  const clock = init.clock ?? systemClock;
  const advertIntervalMs = init.advertIntervalMs ?? 20_000;
  const advertTimeoutMs = init.advertTimeoutMs ?? 10_000;
  const reconnectDelayMs = init.reconnectDelayMs ?? 500;
  const maxReconnectDelayMs = init.maxReconnectDelayMs ?? 30_000;
  const stopGraceMs = init.stopGraceMs ?? 10_000;
  const stopping = new AbortController();
  let state: WorkerSessionState = 'idle';
  let node: WorkerSessionNode | undefined;
  let connecting: Promise<void> | undefined;
  let seq = 0;
  let advert: AdvertOutcome | undefined;
  /** The addresses of the last accepted advert: a change of them is advertised at once. */
  let advertisedAddrs = '';
  let chain: Promise<unknown> = Promise.resolve();

  const answerer = createTaskAnswerer({
    relay: init.relay,
    network: init.network,
    ...((init.direct ?? true) ? { account: init.signer.accountId } : {}),
    signer: init.signer,
    verifier: init.verifier,
    slots: init.slots,
    prepare: init.prepare,
    signal: stopping.signal,
    now: () => clock.now(),
    ...(init.readTimeoutMs === undefined ? {} : { readTimeoutMs: init.readTimeoutMs }),
    ...(init.directReadTimeoutMs === undefined ? {} : { directReadTimeoutMs: init.directReadTimeoutMs }),
    onEvent: (event) => init.onTask?.(event),
  });

  function setState(next: WorkerSessionState): void {
    // Once stopping, a connection loop still winding down must not make the session look alive again.
    if (state === next || (state === 'stopping' && next !== 'stopped') || state === 'stopped') return;
    state = next;
    init.onState?.(next);
  }

  async function setup(created: WorkerSessionNode): Promise<void> {
    node = created;
    await created.handle(TASK_PROTOCOL, answerer, { maxInboundStreams: init.maxInboundStreams ?? 64 });
    created.addEventListener('peer:disconnect', (event) => {
      if (!event.detail.equals(init.relay) || node !== created || state !== 'online') return;
      init.onConnection?.({ connected: false, reason: 'closed', error: 'the relay connection closed' });
      void closeNode().then(() => connectWithRetry(stopping.signal, true).catch(() => undefined));
    });
    created.addEventListener('self:peer:update', () => {
      if (node !== created || state !== 'online') return;
      if (webrtcAddrs(created).join(' ') !== advertisedAddrs) void advertise();
    });
  }

  async function open(signal: AbortSignal, attempt: number): Promise<void> {
    let given: WorkerSessionNode | undefined;
    const created = await init.connect({
      signal,
      attempt,
      setup: (candidate) => {
        given = candidate;
        return setup(candidate);
      },
    });
    if (given !== created) await setup(created);
    // A connection that dropped while the attempt finished sends no 'peer:disconnect' the session would act on.
    if (created.getConnections(init.relay).length === 0) {
      throw new RelayConnectionLostError('the relay connection closed while connecting');
    }
  }

  function connectWithRetry(signal: AbortSignal, retry: boolean): Promise<void> {
    connecting ??= (async () => {
      let delay = reconnectDelayMs;
      for (let attempt = 0; ; attempt++) {
        signal.throwIfAborted();
        setState('connecting');
        try {
          await open(signal, attempt);
          setState('online');
          init.onConnection?.({ connected: true });
          await advertise();
          return;
        } catch (error) {
          signal.throwIfAborted();
          await closeNode();
          init.onConnection?.({ connected: false, reason: 'unreachable', error: messageOf(error) });
          if (!retry) throw error;
          await clock.sleep(delay, { signal });
          delay = Math.min(maxReconnectDelayMs, delay * 2);
        }
      }
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  async function closeNode(): Promise<void> {
    const current = node;
    node = undefined;
    await Promise.resolve(current?.stop()).catch(() => undefined);
  }

  async function renew(): Promise<void> {
    for (;;) {
      try {
        await clock.sleep(advertIntervalMs, { signal: stopping.signal });
      } catch {
        return;
      }
      await advertise().catch((error: unknown) => init.onWarning?.(messageOf(error)));
    }
  }

  function advertise(): Promise<AdvertOutcome | undefined> {
    const run = chain.then(sendAdvert);
    chain = run.catch(() => undefined);
    return run;
  }

  async function sendAdvert(): Promise<AdvertOutcome | undefined> {
    const current = node;
    if (current === undefined || state !== 'online') return undefined;
    const addrs = webrtcAddrs(current);
    const content = init.advert();
    // Above the last one, and above any earlier run's (the clock moves on), so a restart is never refused.
    seq = Math.max(seq + 1, clock.now());
    const payload: WorkerAdvertPayload = {
      v: 1,
      net: init.network,
      models: [...content.models],
      backend: content.backend,
      allocation: content.allocation,
      pricePerUnit: content.pricePerUnit,
      addrs,
      seq,
      ts: clock.now(),
    };
    const bytes = encodeEnvelope(await signEnvelope(init.signer, 'advert', payload));
    const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(advertTimeoutMs)]);
    let outcome: AdvertOutcome;
    try {
      const stream = await current.dialProtocol(init.relay, ADVERT_PROTOCOL, { signal });
      const channel = messageChannel(stream, MAX_ADVERT_MESSAGE_BYTES);
      await channel.writeBytes(bytes, { signal });
      const answer = parseAdvertAnswer(await channel.read({ signal }));
      await stream.close({ signal }).catch(() => undefined);
      if (answer === undefined) throw new InvalidAdvertAnswerError('the relay answered the advert with something else');
      outcome = { seq: payload.seq, ok: answer.ok, error: answer.ok ? undefined : answer.error, payload };
    } catch (error) {
      outcome = { seq: payload.seq, ok: false, error: { code: 'unreachable', message: messageOf(error) }, payload };
    }
    advert = outcome;
    if (outcome.ok) advertisedAddrs = addrs.join(' ');
    init.onAdvert?.(outcome);
    return outcome;
  }

  return {
    async start(options = {}) {
      if (state !== 'idle') throw new WorkerSessionStartedError(`the session was started already (it is ${state})`);
      const signal =
        options.signal === undefined ? stopping.signal : AbortSignal.any([options.signal, stopping.signal]);
      await connectWithRetry(signal, init.retryFirstConnect ?? true);
      void renew();
    },

    async stop() {
      if (state === 'stopping' || state === 'stopped') return;
      const started = state !== 'idle';
      setState('stopping');
      if (started) {
        // No new tasks; running ones finish and are answered (and paid) if they can within the grace period.
        await Promise.resolve(node?.unhandle(TASK_PROTOCOL)).catch(() => undefined);
        const deadline = clock.now() + stopGraceMs;
        while (init.slots.running > 0 && clock.now() < deadline) await clock.sleep(50);
      }
      const reason = new WorkerSessionStoppedError('the worker is stopping');
      stopping.abort(reason);
      init.slots.close(reason);
      await connecting?.catch(() => undefined);
      await closeNode();
      setState('stopped');
    },

    advertise,

    resize(limits) {
      init.slots.resize(limits);
    },

    status() {
      const current = node;
      return {
        state,
        connected: current !== undefined && current.getConnections(init.relay).length > 0,
        peers: current?.getPeers().length ?? 0,
        webrtcAddrs: current === undefined ? [] : webrtcAddrs(current),
        running: init.slots.running,
        advert,
      };
    },
  };
}

/** The node's WebRTC addresses through the relay, as many as an advert holds. */
function webrtcAddrs(node: WorkerSessionNode): string[] {
  return webrtcAddresses(node)
    .map(String)
    .filter((text) => text.length <= 256)
    .slice(0, MAX_ADVERT_ADDRS);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
