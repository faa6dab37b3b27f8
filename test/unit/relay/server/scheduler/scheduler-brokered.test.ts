/**
 * The scheduler against real libp2p workers on loopback: a worker connects to
 * a real relay node, advertises a model, and runs a task brokered to it on a
 * real pipeline; bad answers, silence, heavy models and bad adverts are refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Multiaddr } from '@multiformats/multiaddr';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNodeVerifier } from '#node/crypto/node-verifier.ts';
import { createRelayNode, type RelayNode } from '#server/p2p/relay-node.ts';
import { WorkerFailedError } from '#server/scheduler/errors.ts';
import { createScheduler, type Scheduler } from '#server/scheduler/scheduler.ts';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { AccountId } from '#core/identity/ids.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { loadCatalogue } from '#test/models.ts';
import { waitFor } from '#test/p2p-clients.ts';
import {
  pipelineAnswerer,
  signReceipt,
  signTestTask,
  startSchedulerTestWorker,
  type SchedulerTestWorker,
  type TaskAnswerer,
} from '#test/scheduler-worker.ts';
import { readMessage } from '#core/envelope/envelope.ts';
import { decodeTaskPayload } from '#core/messages/task.ts';
import type { TaskId } from '#core/identity/ids.ts';

const verifier = createNodeVerifier();
const cleanups: (() => Promise<unknown>)[] = [];
let dataDir: string;
let relay: RelayNode;
let network: AccountId;
let scheduler: Scheduler;
let languageId: ModelEntry;
let ocr: ModelEntry;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'acn-scheduler-'));
  relay = await createRelayNode({ dataDir, host: '127.0.0.1', port: 0 });
  await relay.start();
  network = relay.key.accountId;
  scheduler = createScheduler({ node: relay, verifier, network });
  await scheduler.start();
  const catalogue = await loadCatalogue();
  languageId = catalogue.models.find((m) => m.kind === 'language-id') as ModelEntry;
  ocr = catalogue.models.find((m) => m.sizeClass === 'heavy') as ModelEntry;
});

afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
  await waitFor(() => scheduler.workers().length === 0, 5000, 'stopped workers to be dropped');
});

afterAll(async () => {
  await scheduler.stop();
  await relay.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function relayAddr(): Multiaddr {
  const address = relay.multiaddrs().find((ma) => ma.toString().includes('/ws/'));
  if (address === undefined) throw new Error('the relay has no WebSocket address');
  return address;
}

async function worker(answer: TaskAnswerer): Promise<SchedulerTestWorker> {
  const started = await startSchedulerTestWorker({ network, relayAddr: relayAddr(), answer });
  cleanups.push(() => started.stop());
  return started;
}

const french = new TextEncoder().encode('Le train de nuit arrive à la gare de Lyon demain matin.');

describe('scheduler', () => {
  it('brokers a task to a worker that runs it and returns a verified receipt', async () => {
    const runner = await pipelineAnswerer(languageId, verifier);
    cleanups.push(() => runner.release());
    const self = await worker(runner.answer);
    expect(await self.advertise(relay.peerId, { models: [languageId.id], pricePerUnit: 1 })).toEqual({ ok: true });

    const picked = scheduler.pick(languageId);
    expect(picked?.account).toBe(self.account);
    const task = await signTestTask(network, languageId.id, french);
    const result = await scheduler.dispatch(picked ?? self.account, task, french, { timeoutMs: 10_000 });
    expect(result.receipt.signer).toBe(self.account);
    expect(result.receipt.payload.output).toBe(sha256Hex(result.output));
    const decoded = pipelineFor(languageId.pre)?.decodeOutput(result.output);
    expect(decoded?.ok && (decoded.value as { label: string }).label).toBe('fra');
    const info = scheduler.worker(self.account);
    expect(info?.completed).toBe(1);
    expect(info?.inFlight).toBe(0);
    expect(info?.latencyMs).toBeGreaterThan(0);

    // A newer advert replaces it; an older one is refused.
    expect(await self.advertise(relay.peerId, { models: [languageId.id], seq: 10 })).toEqual({ ok: true });
    const stale = await self.advertise(relay.peerId, { models: [languageId.id], seq: 5 });
    expect(stale.ok).toBe(false);

    // A worker that leaves is forgotten.
    await self.stop();
    await waitFor(() => scheduler.worker(self.account) === undefined, 5000, 'the worker to be dropped');
  });

  it('prefers the cheaper of two equal workers and honours exclude', async () => {
    const cheap = await worker(() => Promise.resolve(undefined));
    const dear = await worker(() => Promise.resolve(undefined));
    await cheap.advertise(relay.peerId, { models: [languageId.id], pricePerUnit: 1 });
    await dear.advertise(relay.peerId, { models: [languageId.id], pricePerUnit: 5 });
    expect(scheduler.pick(languageId)?.account).toBe(cheap.account);
    expect(scheduler.pick(languageId, { exclude: [cheap.account] })?.account).toBe(dear.account);
    expect(scheduler.pick(languageId, { exclude: [cheap.account, dear.account] })).toBeUndefined();
  });

  it("counts tasks held outside dispatch (the direct path) in a worker's load until released", async () => {
    const a = await worker(() => Promise.resolve(undefined));
    const b = await worker(() => Promise.resolve(undefined));
    await a.advertise(relay.peerId, { models: [languageId.id], pricePerUnit: 1 });
    await b.advertise(relay.peerId, { models: [languageId.id], pricePerUnit: 1 });
    // Only these two: workers of earlier tests may still be connected.
    const exclude = scheduler
      .workers()
      .map((w) => w.account)
      .filter((account) => account !== a.account && account !== b.account);
    const first = scheduler.pick(languageId, { exclude });
    if (first === undefined) throw new Error('no worker picked');
    const other = first.account === a.account ? b.account : a.account;
    const releases = [scheduler.hold(first.account), scheduler.hold(first.account)];
    expect(scheduler.worker(first.account)?.inFlight).toBe(2);
    expect(scheduler.pick(languageId, { exclude })?.account).toBe(other);
    for (const release of releases) {
      release();
      release(); // a second call changes nothing
    }
    expect(scheduler.worker(first.account)?.inFlight).toBe(0);
  });

  it('fails a worker that answers garbage or a receipt for other output with bad-receipt', async () => {
    const garbage = await worker(() =>
      Promise.resolve({ receipt: new Uint8Array([1, 2, 3]), output: new Uint8Array() }),
    );
    await garbage.advertise(relay.peerId, { models: [languageId.id] });
    const task = await signTestTask(network, languageId.id, french);
    const failure = await scheduler
      .dispatch(garbage.account, task, french, { timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkerFailedError);
    expect((failure as WorkerFailedError).reason).toBe('bad-receipt');
    expect(scheduler.worker(garbage.account)?.failures).toBe(1);

    const liar = await worker(async (request, signer) => {
      const message = readMessage(request.task, 'task', decodeTaskPayload, verifier);
      if (!message.ok) throw message.error;
      const task = { id: message.value.id as TaskId, payload: message.value.payload };
      const receipt = await signReceipt(signer, task, new Uint8Array([1]));
      return { receipt, output: new Uint8Array([2]) };
    });
    await liar.advertise(relay.peerId, { models: [languageId.id] });
    const lie = await scheduler.dispatch(liar.account, task, french, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect((lie as WorkerFailedError).reason).toBe('bad-receipt');

    const refuser = await worker(() => Promise.resolve({ error: { code: 'busy', message: 'too busy' } }));
    await refuser.advertise(relay.peerId, { models: [languageId.id] });
    const refused = await scheduler.dispatch(refuser.account, task, french).catch((e: unknown) => e);
    expect((refused as WorkerFailedError).reason).toBe('error');
    expect((refused as WorkerFailedError).workerCode).toBe('busy');
  });

  it('fails a worker that never answers with timeout, within the timeout', async () => {
    const silent = await worker(() => Promise.resolve(undefined));
    await silent.advertise(relay.peerId, { models: [languageId.id] });
    const task = await signTestTask(network, languageId.id, french);
    const started = Date.now();
    const failure = await scheduler.dispatch(silent.account, task, french, { timeoutMs: 800 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(failure).toBeInstanceOf(WorkerFailedError);
    expect((failure as WorkerFailedError).reason).toBe('timeout');
    expect(scheduler.worker(silent.account)?.inFlight).toBe(0);
  });

  it('never picks a worker for a heavy model', async () => {
    const w = await worker(() => Promise.resolve(undefined));
    await w.advertise(relay.peerId, { models: [ocr.id, languageId.id] });
    expect(ocr.sizeClass).toBe('heavy');
    expect(scheduler.pick(ocr)).toBeUndefined();
    expect(scheduler.pick({ ...languageId, sizeClass: 'heavy' })).toBeUndefined();
    expect(scheduler.pick(languageId)?.account).toBe(w.account);
  });

  it('refuses adverts with a bad signature, for another network or stale', async () => {
    const w = await worker(() => Promise.resolve(undefined));
    const forged = await w.advertise(relay.peerId, { models: [languageId.id] }, true);
    expect(forged).toMatchObject({ ok: false, error: { code: 'bad-signature' } });
    const other = await w.advertise(relay.peerId, { models: [languageId.id], net: w.account });
    expect(other).toMatchObject({ ok: false, error: { code: 'wrong-network' } });
    const old = await w.advertise(relay.peerId, { models: [languageId.id], ts: Date.now() - 10 * 60_000 });
    expect(old).toMatchObject({ ok: false, error: { code: 'clock-skew' } });
    expect(scheduler.worker(w.account)).toBeUndefined();
  });
});
