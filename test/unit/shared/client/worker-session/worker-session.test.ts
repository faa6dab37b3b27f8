/**
 * The worker session both desktop workers run, over a fake node, relay and
 * clock: the signed advert and its renewal, tasks answered with a signed
 * receipt within the slots, live limits, reconnection with backoff, and a
 * stop that lets running tasks finish.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { readMessage } from '#core/envelope/envelope.ts';
import type { ModelId } from '#core/identity/ids.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import { presetAllocation } from '#core/resources/allocation.ts';
import { TaskRefusedError } from '#client/worker-session/errors.ts';
import type { CheckedTask, TaskEvent, TaskOutcome } from '#client/worker-session/task-answerer.ts';
import { createTaskSlots, type TaskSlots } from '#client/worker-session/task-slots.ts';
import {
  createWorkerSession,
  type AdvertOutcome,
  type WorkerConnectionEvent,
  type WorkerSession,
  type WorkerSessionInit,
} from '#client/worker-session/worker-session.ts';
import { createTestNetwork, signerFor, T0, TEST_MODEL, type TestNetwork } from '#test/network.ts';
import {
  FakeNode,
  createFakeClock,
  createFakeRelay,
  settle,
  taskRequest,
  type FakeClock,
  type FakeRelay,
} from './session-fakes.ts';

const worker = signerFor('worker');
const requester = signerFor('requester');
const input = new TextEncoder().encode('hello');
const output = new TextEncoder().encode('{"label":"eng"}');

/** A run that ends when `finish` is called, or when its signal aborts (as the inference pool's do). */
function heldRun(): { readonly run: (signal: AbortSignal) => Promise<TaskOutcome>; readonly finish: () => void } {
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    run: async (signal) => {
      await new Promise<void>((resolve, reject) => {
        void done.then(resolve);
        signal.addEventListener('abort', () => {
          reject(signal.reason as Error);
        });
      });
      return { output, units: 3, backend: 'native', runMs: 12.4, threads: 2 };
    },
    finish,
  };
}

interface Harness {
  readonly session: WorkerSession;
  readonly clock: FakeClock;
  readonly relay: FakeRelay;
  readonly slots: TaskSlots;
  /** Nodes made so far, one per connection attempt. */
  readonly nodes: FakeNode[];
  readonly attempts: number[];
  readonly adverts: AdvertOutcome[];
  readonly connections: WorkerConnectionEvent[];
  readonly tasks: TaskEvent[];
  readonly prepared: CheckedTask[];
  /** Whether the next attempts connect. */
  reachable: boolean;
}

let net: TestNetwork;

beforeEach(async () => {
  net = await createTestNetwork();
});

function harness(overrides: Partial<WorkerSessionInit> = {}, run = heldRun().run): Harness {
  const clock = createFakeClock(T0);
  const relay = createFakeRelay();
  const slots = createTaskSlots({ concurrency: 1, dutyCycle: 1, maxWaitMs: 100 });
  const h: Omit<Harness, 'session'> & { session?: WorkerSession } = {
    clock,
    relay,
    slots,
    nodes: [],
    attempts: [],
    adverts: [],
    connections: [],
    tasks: [],
    prepared: [],
    reachable: true,
  };
  h.session = createWorkerSession({
    signer: worker,
    verifier: nobleVerifier,
    network: net.relay.accountId,
    relay: relay.peer,
    clock,
    slots,
    connect: async ({ attempt, setup }) => {
      h.attempts.push(attempt);
      const node = new FakeNode(relay, { connected: h.reachable });
      h.nodes.push(node);
      await setup(node);
      return node;
    },
    advert: () => ({
      models: [TEST_MODEL],
      backend: 'native',
      allocation: presetAllocation('balanced'),
      pricePerUnit: 2,
    }),
    prepare: (task) => {
      h.prepared.push(task);
      if (task.model !== TEST_MODEL) throw new TaskRefusedError('unknown-model', 'not offered');
      return run;
    },
    onAdvert: (outcome) => h.adverts.push(outcome),
    onConnection: (event) => h.connections.push(event),
    onTask: (event) => h.tasks.push(event),
    ...overrides,
  });
  return h as Harness;
}

describe('worker session: adverts', () => {
  it('connects, then signs and sends an advert of what the platform offers, seq and ts from the clock', async () => {
    const h = harness();
    await h.session.start();
    expect(h.session.status()).toMatchObject({ state: 'online', connected: true, peers: 1, running: 0 });
    expect(h.relay.adverts).toEqual([
      {
        v: 1,
        net: net.relay.accountId,
        models: [TEST_MODEL],
        backend: 'native',
        allocation: presetAllocation('balanced'),
        pricePerUnit: 2,
        addrs: [],
        seq: T0,
        ts: T0,
      },
    ]);
    expect(h.adverts.map(({ ok, error, seq }) => ({ ok, error, seq }))).toEqual([
      { ok: true, error: undefined, seq: T0 },
    ]);
    expect(h.connections).toEqual([{ connected: true }]);
    await h.session.stop();
  });

  it('renews the advert every interval, each with a higher seq even when the clock has not moved on', async () => {
    const h = harness({ advertIntervalMs: 1000 });
    await h.session.start();
    await h.session.advertise();
    await h.clock.advance(1000);
    await settle(20);
    expect(h.relay.adverts.map((advert) => advert.seq)).toEqual([T0, T0 + 1, T0 + 1000]);
    await h.session.stop();
  });

  it("keeps the relay's refusal code, and says unreachable when the answer is not an advert answer", async () => {
    const h = harness();
    h.relay.answer = () => ({ ok: false, error: { code: 'stale-advert', message: 'seq too low' } });
    await h.session.start();
    expect(h.adverts.at(-1)).toMatchObject({ ok: false, error: { code: 'stale-advert' } });
    h.relay.answer = () => ({ hello: 'world' });
    expect(await h.session.advertise()).toMatchObject({ ok: false, error: { code: 'unreachable' } });
    expect(h.session.status().advert).toMatchObject({ ok: false, error: { code: 'unreachable' } });
    await h.session.stop();
  });

  it('advertises at once when its WebRTC addresses change, and not while offline', async () => {
    const h = harness();
    await h.session.start();
    const node = h.nodes[0];
    node?.addWebrtcAddr();
    await settle(20);
    expect(h.relay.adverts).toHaveLength(2);
    expect(h.relay.adverts[1]?.addrs).toEqual([
      `/ip4/127.0.0.1/tcp/9090/ws/p2p/${net.relay.accountId}/p2p-circuit/webrtc`,
    ]);
    expect(h.session.status().webrtcAddrs).toEqual(h.relay.adverts[1]?.addrs);
    await h.session.stop();
    expect(await h.session.advertise()).toBeUndefined();
  });
});

describe('worker session: tasks', () => {
  it('answers a task from the relay with a receipt signed by the worker, timed by the clock', async () => {
    const held = heldRun();
    const h = harness({}, held.run);
    await h.session.start();
    const { request, id } = await taskRequest(net, requester, input);
    const answering = h.nodes[0]?.sendTask(request);
    await settle();
    expect(h.session.status().running).toBe(1);
    await h.clock.advance(250);
    held.finish();
    const answer = await answering;
    if (answer === undefined || !('receipt' in answer)) throw new Error(`no receipt: ${JSON.stringify(answer)}`);
    expect(answer.output).toEqual(output);
    const receipt = readMessage(answer.receipt, 'receipt', decodeReceiptPayload, nobleVerifier);
    expect(receipt.ok && receipt.value.signer).toBe(worker.accountId);
    expect(receipt.ok && receipt.value.payload).toMatchObject({
      net: net.relay.accountId,
      task: id,
      model: TEST_MODEL,
      outputBytes: output.length,
      units: 3,
      backend: 'native',
      runMs: 12,
      ts: T0 + 250,
    });
    expect(h.prepared).toEqual([{ id, model: TEST_MODEL, input }]);
    expect(h.tasks.map((event) => event.phase)).toEqual(['started', 'done']);
    await h.session.stop();
  });

  it("refuses with the platform's code a task it does not offer, and with invalid-task what is not a task", async () => {
    const h = harness();
    await h.session.start();
    const node = h.nodes[0];
    const { request } = await taskRequest(net, requester, input);
    const foreign = await taskRequest(net, requester, input, { model: sha256Hex(output) as ModelId });
    expect(await node?.sendTask(foreign.request)).toMatchObject({ error: { code: 'unknown-model' } });
    expect(await node?.sendTask({ task: request.task })).toMatchObject({ error: { code: 'invalid-task' } });
    expect(await node?.sendTask({ ...request, input: new Uint8Array([1]) })).toMatchObject({
      error: { code: 'input-mismatch' },
    });
    expect(h.tasks.map((event) => event.phase === 'failed' && event.error.code)).toEqual([
      'unknown-model',
      'invalid-task',
      'input-mismatch',
    ]);
    await h.session.stop();
  });

  it('admits within the slots: refuses as busy when full, and admits the waiting task after a resize', async () => {
    const held = heldRun();
    const h = harness({}, held.run);
    await h.session.start();
    const node = h.nodes[0];
    const first = await taskRequest(net, requester, input);
    const second = await taskRequest(net, requester, input);
    const third = await taskRequest(net, requester, input);
    const running = node?.sendTask(first.request);
    await settle();
    // One slot, a 100 ms wait: the second is refused for the relay to run elsewhere.
    expect(await node?.sendTask(second.request)).toMatchObject({ error: { code: 'busy' } });
    const waiting = node?.sendTask(third.request);
    await settle();
    expect(h.slots.stats()).toMatchObject({ running: 1, waiting: 1 });
    h.session.resize({ concurrency: 2, dutyCycle: 1 });
    await settle();
    expect(h.slots.stats()).toMatchObject({ running: 2, waiting: 0 });
    held.finish();
    expect(await running).toHaveProperty('receipt');
    expect(await waiting).toHaveProperty('receipt');
    await h.session.stop();
  });

  it('takes a direct task only with the relay’s assignment, and none over a relayed connection', async () => {
    const h = harness();
    await h.session.start();
    const node = h.nodes[0];
    const { request } = await taskRequest(net, requester, input);
    const from = peerIdFromString(signerFor('stranger').accountId);
    expect(await node?.sendTask(request, { from })).toMatchObject({ error: { code: 'unauthorized' } });
    await expect(node?.sendTask(request, { from, limited: true })).rejects.toThrow();
    expect(h.prepared).toEqual([]);
    await h.session.stop();
  });
});

describe('worker session: connection', () => {
  it('retries a failed first connection with doubling waits, up to the longest', async () => {
    const h = harness({ reconnectDelayMs: 100, maxReconnectDelayMs: 300 });
    h.reachable = false;
    const starting = h.session.start();
    await settle();
    expect(h.connections.at(-1)).toMatchObject({ connected: false, reason: 'unreachable' });
    for (const wait of [100, 200, 300, 300]) {
      expect(h.clock.sleeping()).toEqual([wait]);
      await h.clock.advance(wait);
    }
    h.reachable = true;
    await h.clock.advance(300);
    await starting;
    expect(h.attempts).toEqual([0, 1, 2, 3, 4, 5]);
    // Every failed attempt's node was stopped; the one online is not.
    expect(h.nodes.map((node) => node.stopped)).toEqual([true, true, true, true, true, false]);
    expect(h.session.status().state).toBe('online');
    expect(h.relay.adverts).toHaveLength(1);
    await h.session.stop();
  });

  it('rejects start with the connection error when told not to retry the first connection', async () => {
    const h = harness({ retryFirstConnect: false });
    h.reachable = false;
    await expect(h.session.start()).rejects.toMatchObject({
      name: 'RelayConnectionLostError',
      code: 'relay-connection-lost',
    });
    expect(h.nodes[0]?.stopped).toBe(true);
  });

  it('reconnects on a new node when the relay connection closes, and advertises again', async () => {
    const h = harness({ reconnectDelayMs: 100 });
    await h.session.start();
    h.nodes[0]?.dropRelay();
    await settle(20);
    expect(h.connections).toEqual([
      { connected: true },
      { connected: false, reason: 'closed', error: 'the relay connection closed' },
      { connected: true },
    ]);
    expect(h.nodes.map((node) => node.stopped)).toEqual([true, false]);
    expect(h.attempts).toEqual([0, 0]);
    expect(h.relay.adverts).toHaveLength(2);
    expect(h.session.status()).toMatchObject({ state: 'online', connected: true });
    await h.session.stop();
  });

  it('runs once: a second start is refused with a typed error', async () => {
    const h = harness();
    await h.session.start();
    await expect(h.session.start()).rejects.toMatchObject({
      name: 'WorkerSessionStartedError',
      code: 'already-started',
    });
    await h.session.stop();
    await expect(h.session.start()).rejects.toMatchObject({ code: 'already-started' });
  });
});

describe('worker session: stop', () => {
  it('takes no new task, lets the running one finish and be answered, then stops the node', async () => {
    const held = heldRun();
    const h = harness({ stopGraceMs: 1000 }, held.run);
    await h.session.start();
    const node = h.nodes[0];
    const { request } = await taskRequest(net, requester, input);
    const answering = node?.sendTask(request);
    await settle();
    const stopping = h.session.stop();
    await settle();
    expect(h.session.status().state).toBe('stopping');
    expect(node?.handlers.size).toBe(0);
    held.finish();
    await settle();
    await h.clock.advance(50);
    await stopping;
    expect(await answering).toHaveProperty('receipt');
    expect(node?.stopped).toBe(true);
    expect(h.session.status()).toMatchObject({ state: 'stopped', connected: false });
  });

  it('aborts a task still running after the grace period with the stopping reason', async () => {
    const h = harness({ stopGraceMs: 100 }, heldRun().run);
    await h.session.start();
    const node = h.nodes[0];
    const { request } = await taskRequest(net, requester, input);
    // Caught at once: the reset comes while the test awaits the stop.
    const answering = node?.sendTask(request).catch((error: unknown) => error);
    await settle();
    const stopping = h.session.stop();
    await settle();
    await h.clock.advance(100);
    await stopping;
    expect(await answering).toMatchObject({ name: 'StreamResetError' });
    expect(h.tasks.at(-1)).toMatchObject({ phase: 'failed', error: { code: 'aborted' } });
    expect(h.session.status().state).toBe('stopped');
  });

  it('stops before starting without touching the network', async () => {
    const h = harness();
    await h.session.stop();
    expect(h.nodes).toEqual([]);
    expect(h.session.status().state).toBe('stopped');
  });
});
