/**
 * The headless Node worker (`node relay/worker/cli.ts`) against the real relay
 * process, both as child processes: the worker onboards and stakes through
 * the SDK, connects over libp2p and advertises; a task submitted over HTTP
 * runs on it and settles to it minus the relay's fee; presets typed on its
 * standard input resize it and reach the relay without a restart; and a
 * worker killed in the middle of a task leaves the task to the relay's pool
 * and is not paid.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { onnx } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel } from '#node/models/catalogue-store.ts';
import { TASK_PROTOCOL } from '#client/p2p/task-protocol.ts';
import { selectModels } from '#worker/model-selection.ts';
import { createTaskGate } from '#worker/task-gate.ts';
import { applySettingsPatch, parseCommand } from '#worker/worker-settings.ts';
import { DEFAULT_WORKER_SETTINGS } from '#worker/node-worker.ts';
import { readMessage } from '#core/envelope/envelope.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { encodeTable } from '#core/pipelines/data/index.ts';
import { tensorPipeline } from '#core/pipelines/tensor/tensor-pipeline.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import { solvePow } from '#core/pow/pow.ts';
import { AIComputeClient, type TaskView } from '#client/sdk/index.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { startWorkerProcess, type WorkerProcess } from '#test/worker-process.ts';

const FEE_BPS = 1000;
const STAKE = 100;
/** The worker counts this machine as 16 cores, so presets map to different thread counts even on 2. */
const CORES = 16;

/** y = x + x on float32 [n, 3]: a real ONNX model the operator adds as a desktop-class model. */
function doublingModel(): Uint8Array {
  const io = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'n' }, { dimValue: 3 }] },
        },
      },
    });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'double',
        node: [{ opType: 'Add', input: ['x', 'x'], output: ['y'] }],
        input: [io('x')],
        output: [io('y')],
      },
    }),
  ).finish();
}

/** A k-means table of `rows` × `columns` pseudo-random numbers (deterministic). */
function kmeansInput(rows: number, columns: number, k: number, maxIterations: number): Uint8Array {
  let state = 7;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const table = Array.from({ length: rows }, () => Array.from({ length: columns }, next));
  return encodeTable({ rows: table, k, maxIterations, seed: 1 });
}

let relay: RelayProcess;
let relayDir: string;
let workerDir: string;
let worker: WorkerProcess;
let workerAccount: AccountId;
let network: AccountId;
let client: AIComputeClient;
let models: Record<'languageId' | 'kmeans' | 'doubler', ModelEntry>;

async function balanceOf(account: AccountId): Promise<number> {
  return (await client.balance(account)).balance;
}

/** Submits a task and waits until it is settled (or refunded, which fails the test). */
async function runTask(model: ModelEntry, input: Uint8Array, maxPrice: number): Promise<TaskView> {
  const { task } = await client.submitTask({ model: model.id, input, maxPrice });
  return settled(task.id);
}

async function settled(id: TaskId): Promise<TaskView> {
  for (let i = 0; i < 600; i++) {
    const view = await client.getTask(id);
    if (view.state === 'settled') return view;
    if (view.state === 'refunded') throw new Error(`task refunded: ${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`task ${id} did not settle`);
}

const text = (words: string): Uint8Array => new TextEncoder().encode(words);
const doublerInput = (): Uint8Array =>
  tensorPipeline.encodeInput({ x: float32Tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]) });

beforeAll(async () => {
  relayDir = await mkdtemp(join(tmpdir(), 'acn-relay-'));
  workerDir = await mkdtemp(join(tmpdir(), 'acn-worker-'));
  // The operator's own desktop-class model, next to the shipped (phone-class) ones.
  await mkdir(join(relayDir, 'models'), { recursive: true });
  await addModel(join(relayDir, 'models'), doublingModel(), {
    name: 'doubler',
    pricePerUnit: 1,
    sizeClass: 'desktop',
    license: { spdx: 'MIT', source: 'test' },
  });
  relay = await startRelayProcess(
    [
      '--pow-difficulty',
      '4',
      '--grant',
      '5000',
      '--min-worker-stake',
      String(STAKE),
      '--fee-bps',
      String(FEE_BPS),
      '--block-interval',
      '200',
      // No known-answer canaries: one joins a dispatch at random (2% by default) as one more task, paid to the
      // worker when its answer is right and settled on its own, beside the real task, so the worker's balance
      // would move by a task this test did not send (a 1-token canary beside the k-means task gave 4919, not 4918).
      '--canary-rate',
      '0',
    ],
    { dataDir: relayDir },
  );
  network = relay.relayAccount as AccountId;
  const requester = generateNobleSigner();
  client = new AIComputeClient({ relayUrl: relay.url, signer: requester, pinnedRelay: network });
  const puzzle = await client.onboardPuzzle();
  await client.onboard(await solvePow({ network, publicKey: requester.publicKey, difficulty: puzzle.difficulty }));
  const catalogue = await client.models();
  const byName = (name: string): ModelEntry => {
    const entry = catalogue.models.find((m) => m.name === name);
    if (!entry) throw new Error(`no model ${name}`);
    return entry;
  };
  models = { languageId: byName('lande-t50'), kmeans: byName('kmeans-lloyd'), doubler: byName('doubler') };

  worker = startWorkerProcess([
    '--relay',
    relay.url,
    '--data-dir',
    workerDir,
    '--stake',
    String(STAKE),
    '--cores',
    String(CORES),
    '--price',
    '1',
  ]);
  const created = await worker.waitFor(/ key created /);
  workerAccount = /account=(\S+)/.exec(created)?.[1] as AccountId;
  await worker.waitFor(/ advert accepted .*preset=balanced/, { timeoutMs: 40_000 });
}, 90_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail before the worker starts
  await worker?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (relay !== undefined) {
    expect(await relay.stop()).toBe(0);
    await relay.cleanup();
  }
  await rm(relayDir, { recursive: true, force: true });
  await rm(workerDir, { recursive: true, force: true });
});

describe('the Node worker', () => {
  it('creates its key, onboards, stakes and advertises to the relay', async () => {
    const key = join(workerDir, 'worker.key');
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect(await readFile(key, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    const account = await client.balance(workerAccount);
    expect(account).toMatchObject({ granted: true, stake: STAKE });
    expect(account.balance).toBe(5000 - STAKE);
    const nodes = (await (await fetch(`${relay.url}/api/network/nodes`)).json()) as { peers: { id: string }[] };
    expect(nodes.peers.map((p) => p.id)).toContain(workerAccount);
  });

  it('is reachable over WebRTC through its reservation on the relay, and takes tasks only from the relay', async () => {
    const relayAddr = relay.libp2pAddrs[0];
    if (relayAddr === undefined) throw new Error('no relay address');
    const peer = await createLibp2p({
      transports: [webSockets(), circuitRelayTransport(), webRTC()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify(), ping: ping() },
    });
    try {
      await peer.dial(multiaddr(relayAddr));
      const address = multiaddr(`${relayAddr}/p2p-circuit/webrtc/p2p/${workerAccount}`);
      const connection = await peer.dial(address, { signal: AbortSignal.timeout(10_000) });
      // A direct WebRTC connection, not the limited relayed one.
      expect(connection.limits).toBeUndefined();
      expect(await peer.services.ping.ping(address)).toBeGreaterThanOrEqual(0);
      // The worker resets a task stream from anyone but its relay (during negotiation or right after).
      const refused = await peer.dialProtocol(connection.remotePeer, TASK_PROTOCOL).then(
        (stream) =>
          new Promise<boolean>((resolve) => {
            if (stream.status !== 'open') resolve(true);
            stream.addEventListener('close', () => {
              resolve(true);
            });
            setTimeout(() => {
              resolve(false);
            }, 5000);
          }),
        () => true,
      );
      expect(refused).toBe(true);
    } finally {
      await peer.stop();
    }
  });

  it('runs a task submitted over HTTP and is paid its price minus the relay fee', async () => {
    const before = await balanceOf(workerAccount);
    const relayBefore = await balanceOf(network);
    const view = await runTask(models.kmeans, kmeansInput(2000, 4, 3, 50), 100);
    expect(view.worker).toBe(workerAccount);
    expect(view.price).toBe(20);
    const result = await client.getTaskResult(view.id);
    if (!result) throw new Error('no result');
    const receipt = readMessage(result.receipt, 'receipt', decodeReceiptPayload, nobleVerifier);
    if (!receipt.ok) throw receipt.error;
    expect(receipt.value.signer).toBe(workerAccount);
    expect(receipt.value.payload).toMatchObject({ task: view.id, model: models.kmeans.id, backend: 'native' });
    const fee = Math.floor((view.price * FEE_BPS) / 10_000);
    expect(await balanceOf(workerAccount)).toBe(before + view.price - fee);
    expect(await balanceOf(network)).toBe(relayBefore + fee);
    await worker.waitFor(new RegExp(`task done id=${view.id} `));
    // The model came from the relay and is cached under its content address.
    expect(existsSync(join(workerDir, 'models', models.kmeans.id))).toBe(true);
  });

  it('changes preset from standard input and on SIGHUP without a restart: pool, slots and the relay follow', async () => {
    const pid = worker.child.pid;
    let from = worker.lines.length;
    worker.type('generous');
    expect(
      await worker.waitFor(/ advert accepted .*preset=generous cpu=20 threads=3 concurrency=1 /, { from }),
    ).toBeTruthy();
    from = worker.lines.length;
    worker.type('cpu 50');
    await worker.waitFor(/ advert accepted .*preset=custom cpu=50 threads=8 concurrency=4 /, { from });
    // New sessions run with the new thread count, and the change was saved.
    const languageTask = await runTask(models.languageId, text('Dit is een zin in het Nederlands.'), 10);
    expect(languageTask.worker).toBe(workerAccount);
    await worker.waitFor(new RegExp(`task done id=${languageTask.id} .*threads=8`));
    expect(JSON.parse(await readFile(join(workerDir, 'settings.json'), 'utf8'))).toMatchObject({
      preset: 'custom',
      cpu: 50,
    });

    // The relay routes by the newest advert: a desktop-class model goes to the worker until it turns mobile.
    expect((await runTask(models.doubler, doublerInput(), 10)).worker).toBe(workerAccount);
    from = worker.lines.length;
    worker.type('mobile');
    await worker.waitFor(/ advert accepted .*preset=mobile cpu=5 threads=1 concurrency=1 models=6 /, { from });
    expect((await runTask(models.doubler, doublerInput(), 10)).worker).toBe(network);
    expect((await runTask(models.languageId, text('Questa è una frase in italiano.'), 10)).worker).toBe(workerAccount);

    // The settings file, edited and re-read on SIGHUP, changes the running worker the same way.
    await writeFile(join(workerDir, 'settings.json'), JSON.stringify({ preset: 'conservative' }));
    from = worker.lines.length;
    worker.child.kill('SIGHUP');
    await worker.waitFor(/ advert accepted .*preset=conservative cpu=5 threads=1 concurrency=1 models=7 /, { from });
    expect(worker.child.pid).toBe(pid);
    expect(worker.child.exitCode).toBeNull();
  });

  it('a worker killed in the middle of a task is not paid, and the relay pool finishes the task', async () => {
    const before = await balanceOf(workerAccount);
    // Heavy enough (about 2 s here) to be killed while it runs.
    const input = kmeansInput(10_000, 32, 64, 1000);
    const started = performance.now();
    const { task } = await client.submitTask({ model: models.kmeans.id, input, maxPrice: 200 });
    await worker.waitFor(new RegExp(`task started id=${task.id}`));
    worker.child.kill('SIGKILL');
    const view = await settled(task.id);
    expect(view.worker).toBe(network);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(await balanceOf(workerAccount)).toBe(before);
    const result = await client.getTaskResult(task.id);
    if (!result) throw new Error('no result');
    const receipt = readMessage(result.receipt, 'receipt', decodeReceiptPayload, nobleVerifier);
    expect(receipt.ok && receipt.value.signer).toBe(network);
  });
});

describe("the worker's settings, model choice and task slots", () => {
  it('parses typed commands into changes, and refuses what is not a valid allocation', () => {
    expect(parseCommand('generous')).toEqual({ type: 'change', patch: { preset: 'generous' } });
    expect(parseCommand(' CPU 50% ')).toEqual({ type: 'change', patch: { cpu: 50 } });
    expect(parseCommand('models lande-t50, kmeans-lloyd')).toEqual({
      type: 'change',
      patch: { models: ['lande-t50', 'kmeans-lloyd'] },
    });
    expect(() => parseCommand('turbo')).toThrow(expect.objectContaining({ code: 'invalid-settings' }));
    const custom = applySettingsPatch(DEFAULT_WORKER_SETTINGS, { cpu: 50 });
    expect(custom.ok && custom.value.allocation).toMatchObject({ preset: 'custom', cpu: 50, ram: 15, storage: 5 });
    const refused = applySettingsPatch(DEFAULT_WORKER_SETTINGS, { cpu: 95 });
    expect(!refused.ok && refused.error.code).toBe('invalid-settings');
  });

  it('offers what it can run, pays its price and fits its storage share', () => {
    const catalogue = { v: 1 as const, models: Object.values(models) };
    const all = selectModels({ catalogue, wanted: 'all', preset: 'balanced', pricePerUnit: 1, storageBytes: 1e9 });
    expect(all.models.map((m) => m.name)).toEqual(['lande-t50', 'kmeans-lloyd', 'doubler']);
    const mobile = selectModels({ catalogue, wanted: 'all', preset: 'mobile', pricePerUnit: 1, storageBytes: 1e9 });
    expect(mobile.skipped).toContainEqual({ name: 'doubler', reason: 'desktop-on-mobile' });
    const dear = selectModels({ catalogue, wanted: 'all', preset: 'balanced', pricePerUnit: 2, storageBytes: 1e9 });
    expect(dear.models).toEqual([]);
    const small = selectModels({
      catalogue,
      wanted: ['kmeans-lloyd', 'nope'],
      preset: 'balanced',
      pricePerUnit: 1,
      storageBytes: models.kmeans.bytes,
    });
    expect(small.models.map((m) => m.name)).toEqual(['kmeans-lloyd']);
    expect(small.skipped).toContainEqual({ name: 'nope', reason: 'unknown' });
  });

  it('runs at most `concurrency` tasks, admits more after a resize, and rests to keep a CPU share', async () => {
    const gate = createTaskGate({ concurrency: 1, dutyCycle: 1, maxWaitMs: 5000 });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = gate.run(() => held);
    let secondRan = false;
    const second = gate.run(() => {
      secondRan = true;
      return Promise.resolve();
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect({ ...gate.stats(), secondRan }).toEqual({ running: 1, resting: 0, waiting: 1, secondRan: false });
    gate.resize({ concurrency: 2, dutyCycle: 1 });
    await second;
    expect(secondRan).toBe(true);
    release();
    await first;

    // A 1% share: a task of ~20 ms leaves its slot resting ~2 s, longer than the wait, so the next is refused at once.
    const thrifty = createTaskGate({ concurrency: 1, dutyCycle: 0.01, maxWaitMs: 200 });
    await thrifty.run(() => new Promise((resolve) => setTimeout(resolve, 20)));
    expect(thrifty.stats().resting).toBe(1);
    await expect(thrifty.run(() => Promise.resolve())).rejects.toMatchObject({ code: 'worker-busy' });
    thrifty.close(new Error('done'));
  });
});
