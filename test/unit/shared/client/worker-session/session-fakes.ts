/**
 * Fakes for the worker session's unit tests: a clock that moves only when
 * told, a libp2p node whose relay lives in the test (in-memory stream pairs
 * from @libp2p/utils, so the length-prefixed DAG-CBOR channel is the real
 * one), and a task request signed as a requester would.
 */
import {
  TypedEventEmitter,
  type Connection,
  type Libp2pEvents,
  type PeerId,
  type Stream,
  type StreamHandler,
} from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { streamPair } from '@libp2p/utils';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { readMessage } from '#core/envelope/envelope.ts';
import type { Hash, TaskId } from '#core/identity/ids.ts';
import type { TaskPayload } from '#core/messages/task.ts';
import type { Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { decodeWorkerAdvertPayload, type WorkerAdvertPayload } from '#core/messages/worker-advert.ts';
import {
  ADVERT_PROTOCOL,
  MAX_ADVERT_MESSAGE_BYTES,
  MAX_TASK_MESSAGE_BYTES,
  TASK_PROTOCOL,
  messageChannel,
  parseTaskAnswer,
  type TaskAnswer,
} from '#client/p2p/task-protocol.ts';
import type { SessionClock } from '#client/worker-session/session-clock.ts';
import type { WorkerSessionNode } from '#client/worker-session/worker-session.ts';
import { signerFor, task as signTask, type TestNetwork } from '#test/network.ts';

/** A clock whose time moves only on `advance`, waking the sleeps that come due, in order. */
export interface FakeClock extends SessionClock {
  advance(ms: number): Promise<void>;
  /** The durations of the sleeps pending now. */
  sleeping(): number[];
}

export function createFakeClock(start: number): FakeClock {
  let time = start;
  const sleeps: { at: number; ms: number; wake: () => void }[] = [];
  return {
    now: () => time,
    sleep(ms, options = {}) {
      const { signal } = options;
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted === true) {
          reject(signal.reason as Error);
          return;
        }
        const entry = {
          at: time + ms,
          ms,
          wake: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          sleeps.splice(sleeps.indexOf(entry), 1);
          reject(signal?.reason as Error);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        sleeps.push(entry);
      });
    },
    async advance(ms) {
      const until = time + ms;
      for (;;) {
        sleeps.sort((a, b) => a.at - b.at);
        const next = sleeps[0];
        if (next === undefined || next.at > until) break;
        sleeps.shift();
        time = next.at;
        next.wake();
        await settle();
      }
      time = until;
      await settle();
    },
    sleeping: () => sleeps.map((entry) => entry.ms),
  };
}

/** Lets pending promise callbacks and the stream pairs' 1 ms deliveries run. */
export async function settle(ms = 5): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The relay side of the fake network: what it answers adverts with, and the adverts it got. */
export interface FakeRelay {
  readonly signer: Signer;
  readonly peer: PeerId;
  /** Verified adverts, oldest first. */
  readonly adverts: WorkerAdvertPayload[];
  /** What the relay answers the next adverts with. Default `{ ok: true }`. */
  answer: (payload: WorkerAdvertPayload) => unknown;
}

export function createFakeRelay(name = 'relay'): FakeRelay {
  const signer = signerFor(name);
  return {
    signer,
    peer: peerIdFromString(signer.accountId),
    adverts: [],
    answer: () => ({ ok: true }),
  };
}

type NodeEvents = Pick<Libp2pEvents, 'peer:disconnect' | 'self:peer:update'>;

/** A libp2p node connected to a {@link FakeRelay} (or not, with `connected: false`). */
export class FakeNode extends TypedEventEmitter<NodeEvents> implements WorkerSessionNode {
  readonly handlers = new Map<string, StreamHandler>();
  readonly relay: FakeRelay;
  connected: boolean;
  stopped = false;
  addrs: Multiaddr[] = [];

  constructor(relay: FakeRelay, options: { readonly connected?: boolean } = {}) {
    super();
    this.relay = relay;
    this.connected = options.connected ?? true;
  }

  handle(protocol: string, handler: StreamHandler): Promise<void> {
    this.handlers.set(protocol, handler);
    return Promise.resolve();
  }

  unhandle(protocol: string): Promise<void> {
    this.handlers.delete(protocol);
    return Promise.resolve();
  }

  async dialProtocol(peer: PeerId, protocol: string): Promise<Stream> {
    if (!this.connected || this.stopped) throw new Error('not connected');
    if (!peer.equals(this.relay.peer) || protocol !== ADVERT_PROTOCOL) throw new Error('no such protocol');
    const [outbound, inbound] = await streamPair();
    void this.#answerAdvert(inbound);
    return outbound;
  }

  async #answerAdvert(stream: Stream): Promise<void> {
    const channel = messageChannel(stream, MAX_ADVERT_MESSAGE_BYTES);
    const read = readMessage(await channel.readBytes(), 'advert', decodeWorkerAdvertPayload, nobleVerifier);
    if (!read.ok) throw read.error;
    this.relay.adverts.push(read.value.payload);
    await channel.write(this.relay.answer(read.value.payload));
    await stream.close();
  }

  getConnections(peer?: PeerId): Connection[] {
    if (!this.connected || this.stopped || (peer !== undefined && !peer.equals(this.relay.peer))) return [];
    return [fakeConnection(this.relay.peer)];
  }

  getPeers(): PeerId[] {
    return this.connected && !this.stopped ? [this.relay.peer] : [];
  }

  getMultiaddrs(): Multiaddr[] {
    return this.addrs;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  /** The relay closes the connection. */
  dropRelay(): void {
    this.connected = false;
    this.safeDispatchEvent('peer:disconnect', { detail: this.relay.peer });
  }

  /** A new WebRTC address through the relay, as after a new reservation. */
  addWebrtcAddr(): void {
    const ordinal = this.addrs.length + 1;
    this.addrs = [
      ...this.addrs,
      multiaddr(`/ip4/127.0.0.${ordinal}/tcp/9090/ws/p2p/${this.relay.signer.accountId}/p2p-circuit/webrtc`),
    ];
    this.safeDispatchEvent('self:peer:update', { detail: { peer: {} } as NodeEvents['self:peer:update']['detail'] });
  }

  /**
   * Sends `request` on `/acn/task/1.0.0` as `from` would (the relay by
   * default) and resolves with the worker's answer; rejects when the worker
   * aborts the stream.
   */
  async sendTask(
    request: unknown,
    options: { readonly from?: PeerId; readonly limited?: boolean } = {},
  ): Promise<TaskAnswer | undefined> {
    const handler = this.handlers.get(TASK_PROTOCOL);
    if (handler === undefined) throw new Error('no task handler');
    const [outbound, inbound] = await streamPair();
    void handler(inbound, fakeConnection(options.from ?? this.relay.peer, options.limited === true));
    const channel = messageChannel(outbound, MAX_TASK_MESSAGE_BYTES);
    await channel.write(request);
    const answer = parseTaskAnswer(await channel.read());
    await outbound.close().catch(() => undefined);
    return answer;
  }
}

/** Only the fields the task answerer reads. */
function fakeConnection(remotePeer: PeerId, limited = false): Connection {
  return { remotePeer, limits: limited ? { bytes: 1n } : undefined } as unknown as Connection;
}

/** A task request for `input`, signed by `requester` for the network. */
export async function taskRequest(
  net: TestNetwork,
  requester: Signer,
  input: Uint8Array,
  overrides: Partial<TaskPayload> = {},
): Promise<{ readonly request: { task: Uint8Array; input: Uint8Array }; readonly id: TaskId }> {
  const signed = await signTask(net, requester, {
    input: sha256Hex(input) as Hash,
    inputBytes: input.length,
    ...overrides,
  });
  return { request: { task: signed.bytes, input }, id: signed.id };
}
