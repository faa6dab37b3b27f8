/**
 * Streaming and Stop of text generation end to end, on the real relay
 * process and the real Node worker process (both as child processes): a
 * generation's pieces arrive over Server-Sent Events (`GET
 * /api/tasks/:id/stream`) as they are made, first through the relay's own
 * pool, then through a staked Node worker the relay brokers it to (the
 * pieces come to the relay as text frames on the libp2p task stream), and
 * the streamed text is exactly the settled result's. A Stop sent mid-stream
 * (`POST /api/tasks/:id/stop`, the requester's signed task/stop) ends the
 * generation there: the result says `finish: 'stopped'` and carries the
 * stop, it has fewer pieces, and the requester pays exactly the quote for
 * the pieces made, the rest of the escrow coming back (exact balances, with
 * no canaries or re-checks to move them). A task not started yet is
 * cancelled by a stop; bad stops are refused and change nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { onboardAccount, relayApi, type ApiAnswer, type RelayApi } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { textStreams, type StreamedTaskView } from '#test/text-stream.ts';
import { startWorkerProcess, type WorkerProcess } from '#test/worker-process.ts';

const FEE_BPS = 1000;
const STAKE = 100;

let relay: RelayProcess;
let api: RelayApi;
let network: AccountId;
let model: ModelEntry;
let languageId: ModelEntry;
let workerDir: string;
let worker: WorkerProcess | undefined;
let workerAccount: AccountId;
const alice = generateNobleSigner();
const mallory = generateNobleSigner();
const streams = textStreams({
  url: () => relay.url,
  api: (path, body) => api(path, body),
  network: () => network,
  model: () => model,
  requester: alice,
});
const { balanceOf, follow, generation, signedStop, signedTask, streamStopped, streamWhole, submit } = streams;
const post = (path: string, body: unknown): Promise<ApiAnswer> => api(path, body);

beforeAll(async () => {
  relay = await startRelayProcess([
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
    // No canaries nor re-checks: each is a task of the relay's own that would move the balances asserted here.
    '--canary-rate',
    '0',
    '--recheck-rate',
    '0',
  ]);
  api = relayApi(() => relay.url);
  network = relay.relayAccount as AccountId;
  await onboardAccount(api, network, alice);
  await onboardAccount(api, network, mallory);
  const catalogue = (await api('/api/models')).body as unknown as Catalogue;
  const byKind = (kind: string): ModelEntry => {
    const entry = catalogue.models.find((m) => m.kind === kind);
    if (entry === undefined) throw new Error(`no ${kind} model: run npm run models`);
    return entry;
  };
  model = byKind('text-generation');
  languageId = byKind('language-id');
  workerDir = await mkdtemp(join(tmpdir(), 'acn-worker-'));
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail before the relay starts
  if (relay !== undefined) {
    expect(await relay.stop()).toBe(0);
    await relay.cleanup();
  }
  await rm(workerDir, { recursive: true, force: true });
});

describe('text generation streamed by the relay pool', () => {
  it('streams every piece over SSE, and the text is the settled result', async () => {
    const relayBefore = await balanceOf(network);
    const { end, price } = await streamWhole('John 3:16', 48);
    // The relay ran it: it keeps the whole price (the worker's share and the fee).
    expect(end.worker).toBe(network);
    expect(await balanceOf(network)).toBe(relayBefore + price);
  });

  it('stops mid-stream: fewer pieces, finish stopped, and the requester pays for the pieces made', async () => {
    const relayBefore = await balanceOf(network);
    const { end, price } = await streamStopped();
    expect(end.worker).toBe(network);
    expect(await balanceOf(network)).toBe(relayBefore + price);
  });

  it('streams only the end for a task that makes no text, and replays a finished one', async () => {
    const input = new TextEncoder().encode('Le train de nuit arrive à la gare de Lyon demain matin.');
    const view = await submit(languageId, input, 10);
    const first = await follow(view.id);
    expect(first.frames).toEqual([]);
    expect(first.end.state).toBe('settled');

    const { input: text, most } = generation('Psalms 23:1', 24);
    const done = await submit(model, text, most);
    const live = await follow(done.id);
    // Connecting after the end replays the same pieces from the first, then the end at once.
    const replay = await follow(done.id);
    expect(replay.frames).toEqual(live.frames);
    expect(replay.end).toEqual(live.end);
  });

  it('refuses bad stops with typed errors and changes nothing', async () => {
    const { input, most } = generation('John 3:16', 8);
    const view = await submit(model, input, most);
    await follow(view.id);
    const before = await balanceOf(alice.accountId);
    const unknown = 'ab'.repeat(32) as TaskId;
    const cases: [string, Promise<ApiAnswer>, number, string][] = [
      ['finished', post(`/api/tasks/${view.id}/stop`, { stop: await signedStop(view.id) }), 409, 'not-stoppable'],
      [
        'not the requester',
        post(`/api/tasks/${view.id}/stop`, { stop: await signedStop(view.id, mallory) }),
        403,
        'forbidden',
      ],
      ['another task', post(`/api/tasks/${view.id}/stop`, { stop: await signedStop(unknown) }), 403, 'forbidden'],
      ['unknown task', post(`/api/tasks/${unknown}/stop`, { stop: await signedStop(unknown) }), 404, 'unknown-task'],
      [
        'not a stop',
        post(`/api/tasks/${view.id}/stop`, { stop: toBase64Url(new Uint8Array([1, 2, 3])) }),
        400,
        'malformed-encoding',
      ],
      ['no body', post(`/api/tasks/${view.id}/stop`, {}), 400, 'invalid-message'],
    ];
    for (const [name, answer, status, code] of cases) {
      const { status: got, body } = await answer;
      expect({ name, status: got, code: (body.error as { code?: string } | undefined)?.code }).toEqual({
        name,
        status,
        code,
      });
    }
    const stream = await fetch(`${relay.url}/api/tasks/${unknown}/stream`);
    expect(stream.status).toBe(404);
    expect(((await stream.json()) as { error: { code: string } }).error.code).toBe('unknown-task');
    expect(await balanceOf(alice.accountId)).toBe(before);
    expect(((await api(`/api/tasks/${view.id}`)).body.task as StreamedTaskView).state).toBe('settled');
  });
});

describe('text generation streamed through a brokered Node worker', () => {
  beforeAll(async () => {
    worker = startWorkerProcess([
      '--relay',
      relay.url,
      '--data-dir',
      workerDir,
      '--stake',
      String(STAKE),
      '--price',
      '1',
      // Counted as 16 cores, the balanced preset's 10% is a whole thread: the worker never rests between tasks.
      '--cores',
      '16',
    ]);
    const created = await worker.waitFor(/ key created /);
    workerAccount = /account=(\S+)/.exec(created)?.[1] as AccountId;
    // Its advert lists its WebRTC addresses once its reservation on the relay is made (the direct case needs them).
    await worker.waitFor(/ advert accepted .*webrtc=[1-9]/, { timeoutMs: 60_000 });
  }, 90_000);

  it('streams every piece over SSE as the worker makes them, and the worker is paid its price less the fee', async () => {
    const workerBefore = await balanceOf(workerAccount);
    const relayBefore = await balanceOf(network);
    const { end, price } = await streamWhole('John 3:16', 48);
    expect(end.worker).toBe(workerAccount);
    const fee = Math.floor((price * FEE_BPS) / 10_000);
    expect(await balanceOf(workerAccount)).toBe(workerBefore + price - fee);
    expect(await balanceOf(network)).toBe(relayBefore + fee);
  });

  it('forwards a stop to the worker: it ends the generation there, and is paid for the pieces made', async () => {
    const workerBefore = await balanceOf(workerAccount);
    const relayBefore = await balanceOf(network);
    const { end, price } = await streamStopped();
    expect(end.worker).toBe(workerAccount);
    const fee = Math.floor((price * FEE_BPS) / 10_000);
    expect(await balanceOf(workerAccount)).toBe(workerBefore + price - fee);
    expect(await balanceOf(network)).toBe(relayBefore + fee);
  });

  it('cancels and refunds a task not started yet (a direct task waiting for its requester)', async () => {
    const { input, most } = generation('John 3:16', 16);
    const before = await balanceOf(alice.accountId);
    const task = await signedTask(model, input, most);
    const submitted = await post('/api/tasks', { task: toBase64Url(task), input: toBase64Url(input), route: 'direct' });
    expect(submitted.status).toBe(201);
    expect(submitted.body.direct).toBeDefined();
    const view = submitted.body.task as StreamedTaskView;
    expect(view.state).toBe('assigned');
    expect(await balanceOf(alice.accountId)).toBe(before - most);
    const stopped = await post(`/api/tasks/${view.id}/stop`, { stop: await signedStop(view.id) });
    expect(stopped.status).toBe(200);
    expect((stopped.body.task as StreamedTaskView).state).toBe('refunded');
    const { frames, end } = await follow(view.id);
    expect(frames).toEqual([]);
    expect(end.state).toBe('refunded');
    expect(await balanceOf(alice.accountId)).toBe(before);
  });
});
