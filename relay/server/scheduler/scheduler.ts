/**
 * The scheduler: brokers tasks from the relay to desktop workers.
 *
 * Workers connect to the relay over libp2p and announce themselves on
 * {@link ADVERT_PROTOCOL} with a signed advert (models, backend, allocation,
 * price). The scheduler keeps the newest advert of each connected worker for
 * `advertTtlMs`, picks the best worker for a model and sends it the task on
 * {@link TASK_PROTOCOL}, over the connection the worker opened (the relay never
 * needs a worker's own addresses). A result counts only with a receipt that is
 * the worker's signature over this task, this model and this output.
 *
 * An advert must come from its signer's own connection (an account id is the
 * PeerId of its key), and never over a relayed (limited) connection.
 *
 * A text generation streams: the worker sends each piece's text before its
 * answer, handed to the dispatch's `onText`, and the dispatch's `stop`
 * forwards the requester's signed stop to the worker, which then ends the
 * generation and answers with what it made.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { equalBytes, sha256Hex } from '#core/encoding/bytes.ts';
import { readMessage, type SignedMessage } from '#core/envelope/envelope.ts';
import { checkFreshness } from '#core/envelope/freshness.ts';
import type { AccountId, ModelId, TaskId } from '#core/identity/ids.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { ModelEntry, SizeClass } from '#core/models/catalogue.ts';
import { decodeReceiptPayload, type ReceiptPayload } from '#core/messages/receipt.ts';
import { decodeTaskPayload } from '#core/messages/task.ts';
import { decodeWorkerAdvertPayload, type WorkerAdvertPayload } from '#core/messages/worker-advert.ts';
import type { RelayNode } from '../p2p/relay-node.ts';
import { DispatchAbortedError, DispatchStoppedError, WorkerFailedError, type WorkerFailureReason } from './errors.ts';
import { chooseWorker, type ChoiceOptions, type ChoiceRules } from './choose-worker.ts';
import { DEFAULT_MIN_REPUTATION } from './reputation-book.ts';
import {
  ADVERT_PROTOCOL,
  MAX_ADVERT_MESSAGE_BYTES,
  MAX_TASK_MESSAGE_BYTES,
  TASK_PROTOCOL,
  messageChannel,
  readTaskAnswer,
  type AdvertAnswer,
  type MessageChannel,
  type TaskAnswer,
  type TaskRequest,
} from '#client/p2p/task-protocol.ts';

/** What the scheduler knows of one worker. */
export interface WorkerInfo {
  /** Its account id, equal to its PeerId. */
  readonly account: AccountId;
  /** Its newest verified advert. */
  readonly advert: WorkerAdvertPayload;
  /** That advert's encoded signed envelope, as received. */
  readonly advertBytes: Uint8Array;
  /** When the advert arrived (the scheduler's clock). */
  readonly receivedAt: number;
  /** 'phone' for a worker on the `mobile` preset, else 'desktop': the largest model class it takes. */
  readonly sizeClass: Exclude<SizeClass, 'heavy'>;
  /** Tasks dispatched to it and not yet answered. */
  readonly inFlight: number;
  /** Moving average of the round trip of its successful dispatches, in ms; undefined before the first. */
  readonly latencyMs: number | undefined;
  readonly completed: number;
  readonly failures: number;
  /** Failures since its last success. */
  readonly consecutiveFailures: number;
  readonly lastFailure: { readonly reason: WorkerFailureReason; readonly at: number } | undefined;
}

export interface SchedulerInit {
  readonly node: RelayNode;
  readonly verifier: Ed25519Verifier;
  /** The network (the relay's account) adverts and receipts must name. */
  readonly network: AccountId;
  readonly now?: () => number;
  /** How long an advert counts, from its arrival; and how old its `ts` may be on arrival. Default 60 s. */
  readonly advertTtlMs?: number;
  /** How far in the future an advert's `ts` may be. Default 2 min. */
  readonly maxAdvertFutureMs?: number;
  /** A worker's reputation, 0 (worst) to 1000 (best), e.g. a `ReputationBook`'s `score`. Default: 500 for everyone. */
  readonly reputation?: (account: AccountId) => number;
  /** Workers whose reputation is below this get no tasks. Default {@link DEFAULT_MIN_REPUTATION}. */
  readonly minReputation?: number;
  /** Consecutive failures after which a worker is skipped for `failureBackoffMs`. Default 3. */
  readonly maxConsecutiveFailures?: number;
  /** Default 30 s. */
  readonly failureBackoffMs?: number;
  /** Streams on the advert protocol at once, per connection. Default 4. */
  readonly maxInboundAdvertStreams?: number;
  readonly onError?: (error: unknown) => void;
}

/** Which workers `pick` leaves out. */
export type PickOptions = ChoiceOptions;

export interface DispatchOptions {
  readonly signal?: AbortSignal;
  /**
   * How long the worker may be silent: from the dispatch (dial included) to
   * its first message, then between its messages (a generation's text counts).
   * Default 15 s.
   */
  readonly timeoutMs?: number;
  /** Text generation: each piece's text as the worker sends it, before its answer. */
  readonly onText?: ((index: number, text: string) => void) | undefined;
  /**
   * Aborted with a `StopRequest` (the requester's signed stop), it is sent
   * to the worker, which ends the generation and answers with what it made.
   * An abort with another reason is ignored: `signal` is what gives up.
   */
  readonly stop?: AbortSignal | undefined;
}

export interface DispatchResult {
  readonly receipt: SignedMessage<'receipt', ReceiptPayload>;
  /** The worker's encoded signed receipt envelope, as received. */
  readonly receiptBytes: Uint8Array;
  readonly output: Uint8Array;
  /** Round trip of the dispatch in ms. */
  readonly elapsedMs: number;
}

export interface Scheduler {
  /** Starts answering adverts. The relay node must be started. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Workers with a live advert, connected now. */
  workers(): WorkerInfo[];
  worker(account: AccountId): WorkerInfo | undefined;
  /**
   * The best worker for `entry`, or undefined when none may run it ('heavy'
   * models never go to workers, nor do workers below `minReputation`).
   */
  pick(entry: ModelEntry, options?: PickOptions): WorkerInfo | undefined;
  /**
   * Counts a task `account` runs outside {@link dispatch} (a direct-path
   * task a requester brings to it) in its load, so `pick` spreads work, until
   * the returned release is called (later calls do nothing).
   */
  hold(account: AccountId): () => void;
  /**
   * Sends a task (its encoded signed envelope) and its input to `worker` and
   * returns its verified receipt and output. Throws {@link WorkerFailedError}
   * when the worker fails, {@link DispatchAbortedError} when `signal` aborts,
   * {@link DispatchStoppedError} when `stop` came before the worker made
   * anything, and a `TypeError` when `task` is not a valid signed task.
   */
  dispatch(
    worker: WorkerInfo | AccountId,
    task: Uint8Array,
    input: Uint8Array,
    options?: DispatchOptions,
  ): Promise<DispatchResult>;
}

interface WorkerRecord {
  peerId: PeerId;
  info: WorkerInfo;
}

const DEFAULT_REPUTATION = 500;
const LATENCY_WEIGHT_NEW = 0.3;

export function createScheduler(init: SchedulerInit): Scheduler {
  const { node, verifier, network } = init;
  const now = init.now ?? Date.now;
  const advertTtlMs = init.advertTtlMs ?? 60_000;
  const maxAdvertFutureMs = init.maxAdvertFutureMs ?? 2 * 60_000;
  const reputation = init.reputation ?? (() => DEFAULT_REPUTATION);
  const rules: ChoiceRules = {
    reputation,
    minReputation: init.minReputation ?? DEFAULT_MIN_REPUTATION,
    maxConsecutiveFailures: init.maxConsecutiveFailures ?? 3,
    failureBackoffMs: init.failureBackoffMs ?? 30_000,
  };
  const records = new Map<AccountId, WorkerRecord>();
  let started = false;

  const onDisconnect = (event: CustomEvent<{ readonly id: string }>): void => {
    records.delete(event.detail.id as AccountId);
  };

  function libp2p(): NonNullable<RelayNode['libp2p']> {
    const p2p = node.libp2p;
    if (p2p === undefined) throw new Error('the relay node is not started');
    return p2p;
  }

  function update(record: WorkerRecord, changes: Partial<WorkerInfo>): void {
    record.info = { ...record.info, ...changes };
  }

  function live(record: WorkerRecord, at: number): boolean {
    if (at - record.info.receivedAt > advertTtlMs) return false;
    return (node.libp2p?.getConnections(record.peerId).length ?? 0) > 0;
  }

  function prune(): void {
    const at = now();
    for (const [account, record] of records) if (!live(record, at)) records.delete(account);
  }

  function refuse(code: string, message: string): AdvertAnswer {
    return { ok: false, error: { code, message } };
  }

  function acceptAdvert(bytes: Uint8Array, connection: Connection): AdvertAnswer {
    const read = readMessage(bytes, 'advert', decodeWorkerAdvertPayload, verifier);
    if (!read.ok) {
      const code = (read.error as { code?: unknown }).code;
      return refuse(typeof code === 'string' ? code : 'invalid-message', read.error.message);
    }
    const advert = read.value;
    const p = advert.payload;
    if (p.net !== network) return refuse('wrong-network', `this relay is network ${network}`);
    if (advert.signer !== connection.remotePeer.toString()) {
      return refuse('unauthorized', 'an advert must come over its signer’s own connection');
    }
    const at = now();
    const fresh = checkFreshness(p.ts, at, { maxAgeMs: advertTtlMs, maxFutureMs: maxAdvertFutureMs });
    if (!fresh.ok) return refuse(fresh.error.code, fresh.error.message);
    const existing = records.get(advert.signer);
    if (existing !== undefined && existing.info.advert.seq >= p.seq) {
      if (existing.info.advert.seq === p.seq && equalBytes(existing.info.advertBytes, bytes)) {
        update(existing, { receivedAt: at }); // a repeat refreshes the advert
        return { ok: true };
      }
      return refuse('bad-sequence', `seq must be above ${existing.info.advert.seq}`);
    }
    const sizeClass = p.allocation.preset === 'mobile' ? 'phone' : 'desktop';
    if (existing !== undefined) {
      existing.peerId = connection.remotePeer;
      update(existing, { advert: p, advertBytes: bytes, receivedAt: at, sizeClass });
    } else {
      records.set(advert.signer, {
        peerId: connection.remotePeer,
        info: {
          account: advert.signer,
          advert: p,
          advertBytes: bytes,
          receivedAt: at,
          sizeClass,
          inFlight: 0,
          latencyMs: undefined,
          completed: 0,
          failures: 0,
          consecutiveFailures: 0,
          lastFailure: undefined,
        },
      });
    }
    return { ok: true };
  }

  async function handleAdvert(stream: Stream, connection: Connection): Promise<void> {
    const channel = messageChannel(stream, MAX_ADVERT_MESSAGE_BYTES);
    const signal = AbortSignal.timeout(10_000);
    try {
      let answer: AdvertAnswer;
      try {
        answer = acceptAdvert(await channel.readBytes({ signal }), connection);
      } catch (error) {
        if (signal.aborted) throw error;
        answer = refuse('malformed-encoding', error instanceof Error ? error.message : 'unreadable advert');
      }
      await channel.write(answer, { signal });
      await stream.close({ signal });
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      init.onError?.(error);
    }
  }

  function recordFailure(account: AccountId, reason: WorkerFailureReason): void {
    const record = records.get(account);
    if (record === undefined) return;
    update(record, {
      failures: record.info.failures + 1,
      consecutiveFailures: record.info.consecutiveFailures + 1,
      lastFailure: { reason, at: now() },
    });
  }

  function recordSuccess(account: AccountId, elapsedMs: number): void {
    const record = records.get(account);
    if (record === undefined) return;
    const previous = record.info.latencyMs;
    update(record, {
      completed: record.info.completed + 1,
      consecutiveFailures: 0,
      latencyMs: previous === undefined ? elapsedMs : previous + LATENCY_WEIGHT_NEW * (elapsedMs - previous),
    });
  }

  function adjustInFlight(account: AccountId, delta: number): void {
    const record = records.get(account);
    if (record !== undefined) update(record, { inFlight: Math.max(0, record.info.inFlight + delta) });
  }

  function checkReceipt(
    account: AccountId,
    taskId: TaskId,
    model: ModelId,
    receiptBytes: Uint8Array,
    output: Uint8Array,
  ): SignedMessage<'receipt', ReceiptPayload> {
    const bad = (message: string): WorkerFailedError => new WorkerFailedError('bad-receipt', account, message);
    const read = readMessage(receiptBytes, 'receipt', decodeReceiptPayload, verifier);
    if (!read.ok) throw bad(`the receipt does not verify: ${read.error.message}`);
    const receipt = read.value;
    const p = receipt.payload;
    if (receipt.signer !== account) throw bad('the receipt is signed by another account');
    if (p.net !== network) throw bad('the receipt names another network');
    if (p.task !== taskId) throw bad('the receipt names another task');
    if (p.model !== model) throw bad('the receipt names another model');
    if (p.outputBytes !== output.length || sha256Hex(output) !== p.output) {
      throw bad('the output does not match the hash and size in the receipt');
    }
    return receipt;
  }

  /** Sends the requester's stop to the worker once `stop` aborts with one (or at once when it has). */
  function forwardStop(channel: MessageChannel, stop: AbortSignal | undefined, signal: AbortSignal): () => void {
    if (stop === undefined) return () => undefined;
    const send = (): void => {
      const reason: unknown = stop.reason;
      if (!(reason instanceof StopRequest)) return;
      // A stop that cannot be written finds a stream that is failing anyway: the read below reports it.
      channel.write({ stop: reason.proof }, { signal }).catch(() => undefined);
    };
    if (stop.aborted) {
      send();
      return () => undefined;
    }
    stop.addEventListener('abort', send, { once: true });
    return () => {
      stop.removeEventListener('abort', send);
    };
  }

  async function exchange(
    peerId: PeerId,
    request: TaskRequest,
    signal: AbortSignal,
    options: {
      readonly onText?: DispatchOptions['onText'];
      readonly stop?: AbortSignal | undefined;
      onMessage(): void;
    },
  ): Promise<{ stage: 'dial' | 'answer'; answer?: TaskAnswer; error?: unknown }> {
    let stream: Stream;
    try {
      stream = await libp2p().dialProtocol(peerId, TASK_PROTOCOL, { signal });
    } catch (error) {
      return { stage: 'dial', error };
    }
    const onAbort = (): void => {
      stream.abort(new Error('dispatch aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let unforward = (): void => undefined;
    try {
      const channel = messageChannel(stream, MAX_TASK_MESSAGE_BYTES);
      await channel.write(request, { signal });
      unforward = forwardStop(channel, options.stop, signal);
      const answer = await readTaskAnswer(
        {
          read: async (readOptions) => {
            const value = await channel.read(readOptions);
            options.onMessage();
            return value;
          },
        },
        { signal, onText: options.onText },
      );
      unforward();
      await stream.close({ signal }).catch(() => undefined);
      return { stage: 'answer', answer };
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      return { stage: 'answer', error };
    } finally {
      unforward();
      signal.removeEventListener('abort', onAbort);
    }
  }

  return {
    async start() {
      if (started) return;
      await libp2p().handle(ADVERT_PROTOCOL, (stream, connection) => handleAdvert(stream, connection), {
        maxInboundStreams: init.maxInboundAdvertStreams ?? 4,
      });
      node.addEventListener('peer:disconnect', onDisconnect);
      started = true;
    },

    async stop() {
      if (!started) return;
      started = false;
      node.removeEventListener('peer:disconnect', onDisconnect);
      if (node.libp2p?.status === 'started') await node.libp2p.unhandle(ADVERT_PROTOCOL);
      records.clear();
    },

    workers() {
      prune();
      return [...records.values()].map((record) => record.info);
    },

    worker(account) {
      prune();
      return records.get(account)?.info;
    },

    hold(account) {
      adjustInFlight(account, 1);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        adjustInFlight(account, -1);
      };
    },

    pick(entry, options = {}) {
      prune();
      const workers = [...records.values()].map((record) => record.info);
      return chooseWorker(workers, entry, now(), rules, options);
    },

    async dispatch(worker, task, input, options = {}) {
      const account = typeof worker === 'string' ? worker : worker.account;
      const message = readMessage(task, 'task', decodeTaskPayload, verifier);
      if (!message.ok) throw new TypeError(`not a valid signed task: ${message.error.message}`);
      const taskId = message.value.id as TaskId;
      const model = message.value.payload.model;
      const record = records.get(account);
      if (record === undefined) {
        throw new WorkerFailedError('unreachable', account, `no live advert from worker ${account}`);
      }
      options.signal?.throwIfAborted();
      const timeoutMs = options.timeoutMs ?? 15_000;
      // The deadline restarts with every message: a long generation keeps the worker talking.
      const timeout = new AbortController();
      let timer = setTimeout(() => {
        timeout.abort(new Error('the worker went silent'));
      }, timeoutMs);
      const onMessage = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timeout.abort(new Error('the worker went silent'));
        }, timeoutMs);
      };
      const signal = options.signal === undefined ? timeout.signal : AbortSignal.any([options.signal, timeout.signal]);
      const started = performance.now();
      adjustInFlight(account, 1);
      try {
        const result = await exchange(record.peerId, { task, input }, signal, {
          onText: options.onText,
          stop: options.stop,
          onMessage,
        });
        if (options.signal?.aborted === true) {
          throw new DispatchAbortedError('the dispatch was cancelled', { cause: options.signal.reason });
        }
        if (timeout.signal.aborted) {
          throw new WorkerFailedError('timeout', account, `worker ${account} was silent for ${timeoutMs} ms`);
        }
        if (result.error !== undefined) {
          const text = result.error instanceof Error ? result.error.message : 'the stream failed';
          throw result.stage === 'dial'
            ? new WorkerFailedError('unreachable', account, `cannot open a task stream: ${text}`, {
                cause: result.error,
              })
            : new WorkerFailedError('bad-receipt', account, `no valid answer: ${text}`, { cause: result.error });
        }
        const answer = result.answer;
        if (answer === undefined) throw new WorkerFailedError('bad-receipt', account, 'the answer is malformed');
        if ('error' in answer) {
          // Stopped before it made anything: the requester's doing, not the worker's failure.
          if (answer.error.code === 'stopped' && options.stop?.aborted === true) {
            throw new DispatchStoppedError(`the worker stopped the task before it made anything`);
          }
          throw new WorkerFailedError('error', account, `the worker failed: ${answer.error.message}`, {
            workerCode: answer.error.code,
          });
        }
        const receipt = checkReceipt(account, taskId, model, answer.receipt, answer.output);
        const elapsedMs = performance.now() - started;
        recordSuccess(account, elapsedMs);
        return { receipt, receiptBytes: answer.receipt, output: answer.output, elapsedMs };
      } catch (error) {
        if (error instanceof WorkerFailedError) recordFailure(account, error.reason);
        throw error;
      } finally {
        clearTimeout(timer);
        adjustInFlight(account, -1);
      }
    },
  };
}
