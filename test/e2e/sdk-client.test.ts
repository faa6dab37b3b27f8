/**
 * The SDK against the real relay process on loopback: onboarding, tasks with
 * results delivered by events and verified as a light client, transfers, the
 * event stream, and typed errors for every way a call can fail.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { AccountId, ModelId, TaskId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { solvePow } from '#core/pow/pow.ts';
import {
  AIComputeClient,
  createMemoryHeaderStore,
  InvalidRelayResponseError,
  isRetryable,
  RelayApiError,
  RelayKeyMismatchError,
  RelayUnreachableError,
  TaskFailedError,
  type FetchLike,
  type TaskView,
} from '#client/sdk/index.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

let relay: RelayProcess;
let network: AccountId;
let languageId: ModelEntry;
const aliceKey = generateNobleSigner();
const bobKey = generateNobleSigner();
let alice: AIComputeClient;
let bob: AIComputeClient;
const french = new TextEncoder().encode('Le train de nuit arrive à la gare de Lyon demain matin.');

/** Resolves with the error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

async function onboard(client: AIComputeClient, publicKey: Uint8Array): Promise<number> {
  const puzzle = await client.onboardPuzzle();
  const pow = await solvePow({ network: puzzle.network, publicKey, difficulty: puzzle.difficulty });
  return (await client.onboard(pow)).balance;
}

beforeAll(async () => {
  relay = await startRelayProcess(['--pow-difficulty', '6', '--block-interval', '200']);
  const status = await new AIComputeClient({ relayUrl: relay.url }).status();
  if (!status.relay) throw new Error('the relay status has no key');
  network = status.relay.account;
  alice = new AIComputeClient({ relayUrl: relay.url, signer: aliceKey, pinnedRelay: network });
  bob = new AIComputeClient({ relayUrl: relay.url, signer: bobKey, pinnedRelay: network });
  const catalogue = await alice.models();
  const entry = catalogue.models.find((m) => m.kind === 'language-id');
  if (!entry) throw new Error('no language-id model');
  languageId = entry;
}, 120_000);

afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
});

describe('AIComputeClient', () => {
  it('reports the relay key in its status, and onboards two accounts once each', async () => {
    const status = await alice.status();
    expect(status.relay?.account).toBe(network);
    expect(status.relay?.publicKey).toHaveLength(32);
    const puzzle = await alice.onboardPuzzle();
    expect(await onboard(alice, aliceKey.publicKey)).toBe(puzzle.grant);
    expect(await onboard(bob, bobKey.publicKey)).toBe(puzzle.grant);
    expect(await alice.balance()).toMatchObject({ account: aliceKey.accountId, balance: puzzle.grant, granted: true });

    const again = await rejection(onboard(alice, aliceKey.publicKey));
    expect(again).toBeInstanceOf(RelayApiError);
    expect(again).toMatchObject({ code: 'already-granted', status: 409 });
    expect(isRetryable(again)).toBe(false);
  });

  it('submits a task, gets its result through events and verifies it fully', async () => {
    // The wait starts before the task is submitted (the relay's 404 reads as "pending" here), and
    // pollMs is far longer than the test: only the task_completed event can end the wait in time.
    let resultRequests = 0;
    const pendingUntilSubmitted: FetchLike = async (input, init) => {
      const response = await fetch(input, init);
      if (input.endsWith('/result')) resultRequests++;
      if (response.status !== 404 || !input.includes(signed.taskId)) return response;
      const pending = { task: { ...signed.view, state: 'pending' } };
      return new Response(JSON.stringify(pending), { status: input.endsWith('/result') ? 202 : 200 });
    };
    let socketOpened: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (socketOpened = resolve));
    class WatchedWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        this.addEventListener('open', () => {
          socketOpened();
        });
      }
    }
    const client = new AIComputeClient({
      relayUrl: relay.url,
      signer: aliceKey,
      pinnedRelay: network,
      fetch: pendingUntilSubmitted,
      WebSocket: WatchedWebSocket,
    });
    const before = (await client.balance()).balance;
    const envelope = await client.signTask({ model: languageId.id, input: french, maxPrice: 50 });
    const signed = {
      ...envelope,
      view: {
        id: envelope.taskId,
        requester: aliceKey.accountId,
        model: languageId.id,
        price: 1,
        maxPrice: 50,
        units: 1,
        submittedAt: Date.now(),
      },
    };
    const waiting = client.waitForResult(signed.taskId, { pollMs: 60_000, signal: AbortSignal.timeout(30_000) });
    await opened;
    const { task, created } = await client.submitSignedTask(envelope.envelope, envelope.input);
    expect(created).toBe(true);
    expect(task).toMatchObject({ requester: aliceKey.accountId, model: languageId.id, maxPrice: 50 });
    const result = await waiting;
    expect(resultRequests).toBeLessThanOrEqual(3);
    expect(result.task.id).toBe(task.id);
    expect(sha256Hex(result.output)).toBe(result.task.outputHash);

    const headers = createMemoryHeaderStore();
    const report = await client.verifyTask(task.id, { headers, result, signal: AbortSignal.timeout(30_000) });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.verified).toBe(true);
    // The task envelope came out of the escrow transaction, so its signature was checked too.
    expect(report.checks.map((c) => c.name)).toContain('task-signature');
    expect(await headers.head()).toBeGreaterThan(0);

    const settled = await client.getTask(task.id);
    expect(settled.state).toBe('settled');
    expect((await client.balance()).balance).toBe(before - settled.price);

    // A second task verified with the same headers: the client fetches the headers in between and links them.
    const second = await client.submitTask({ model: languageId.id, input: french, maxPrice: 50 });
    const secondReport = await client.verifyTask(second.task.id, { headers, signal: AbortSignal.timeout(30_000) });
    expect(secondReport.verified).toBe(true);
    expect(secondReport.checks.find((c) => c.name === 'header-chain')?.detail).toMatch(/follows block/);
  });

  it('streams task and block events for an account', async () => {
    const seen: { type: string; task?: TaskView }[] = [];
    const events = alice.events({ account: aliceKey.accountId });
    try {
      events.on('task_submitted', (task) => seen.push({ type: 'task_submitted', task }));
      events.on('task_completed', (task) => seen.push({ type: 'task_completed', task }));
      events.on('block_mined', () => seen.push({ type: 'block_mined' }));
      await events.opened({ signal: AbortSignal.timeout(10_000) });
      const { task } = await alice.submitTask({ model: languageId.id, input: french, maxPrice: 50 });
      const deadline = Date.now() + 20_000;
      while (!seen.some((e) => e.type === 'block_mined' && seen.some((c) => c.task?.state === 'settled'))) {
        if (Date.now() > deadline) throw new Error(`events seen: ${JSON.stringify(seen.map((e) => e.type))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const mine = seen.filter((e) => e.task?.id === task.id).map((e) => e.type);
      expect(mine).toEqual(['task_submitted', 'task_completed']);
    } finally {
      events.close();
    }
    expect(events.state).toBe('closed');
  });

  it('resubmitting a signed task is idempotent', async () => {
    const signed = await alice.signTask({ model: languageId.id, input: french, maxPrice: 50 });
    const first = await alice.submitSignedTask(signed.envelope, signed.input);
    const again = await alice.submitSignedTask(signed.envelope, signed.input);
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.task.id).toBe(signed.taskId);
    expect(first.task.id).toBe(signed.taskId);
  });

  it('transfers tokens, one sequence number after another', async () => {
    // Bob has no tasks in flight, so his balance moves only with these transactions.
    const bobBefore = (await bob.balance()).balance;
    const [a, b] = await Promise.all([bob.transfer(aliceKey.accountId, 1000), bob.transfer(aliceKey.accountId, 234)]);
    expect(a.id).not.toBe(b.id);
    expect((await bob.balance()).balance).toBe(bobBefore - 1234);
    const stored = await bob.tx(a.id);
    expect(stored.type).toBe('tx/transfer');

    await bob.stake(100);
    const unstake = await bob.unstake(40);
    // The 40 unbond (the relay's default period) before they are spendable again.
    expect(await bob.balance()).toMatchObject({
      balance: bobBefore - 1234 - 100,
      stake: 60,
      seq: 4,
      unbonding: [{ unstake: unstake.id, amount: 40 }],
    });
  });

  it('reads blocks and inclusion proofs signed by the pinned relay', async () => {
    const page = await alice.blocks({ from: 1, limit: 5 });
    expect(page.blocks.length).toBeGreaterThan(0);
    expect(page.blocks[0]?.height).toBe(1);
    const [task] = await alice.listTasks({ account: aliceKey.accountId, limit: 1 });
    expect(task?.requester).toBe(aliceKey.accountId);
    const result = await alice.waitForResult(task?.id as TaskId, { signal: AbortSignal.timeout(30_000) });
    const report = await alice.verifyTask(result.task.id, {
      headers: createMemoryHeaderStore(),
      result,
      signal: AbortSignal.timeout(30_000),
    });
    expect(report.verified).toBe(true);
  });

  it('answers with typed errors: unknown model, insufficient funds, not cancellable', async () => {
    const unknownModel = await rejection(
      alice.submitTask({ model: sha256Hex(new Uint8Array([1])) as ModelId, input: french, maxPrice: 5 }),
    );
    expect(unknownModel).toBeInstanceOf(RelayApiError);
    expect(unknownModel).toMatchObject({ code: 'unknown-model', status: 404 });
    expect(isRetryable(unknownModel)).toBe(false);

    const balance = (await alice.balance()).balance;
    const broke = await rejection(alice.submitTask({ model: languageId.id, input: french, maxPrice: balance + 1 }));
    expect(broke).toBeInstanceOf(RelayApiError);
    expect(broke).toMatchObject({ code: 'insufficient-funds', status: 402 });
    expect(isRetryable(broke)).toBe(false);

    const overdrawn = await rejection(alice.transfer(bobKey.accountId, balance + 1));
    expect(overdrawn).toMatchObject({ code: 'insufficient-funds' });

    const { task } = await alice.submitTask({ model: languageId.id, input: french, maxPrice: 50 });
    await alice.waitForResult(task.id, { signal: AbortSignal.timeout(30_000) });
    const late = await rejection(alice.cancelTask(task.id));
    expect(late).toMatchObject({ code: 'not-cancellable', status: 409 });
    const notMine = await rejection(bob.cancelTask(task.id));
    expect(notMine).toMatchObject({ code: 'forbidden', status: 403 });

    const unknownTask = await rejection(alice.getTask(sha256Hex(new Uint8Array([2])) as TaskId));
    expect(unknownTask).toMatchObject({ code: 'unknown-task', status: 404 });
  });

  it('reports a task that ended without a result, and a proxy page, with their own errors', async () => {
    // The real relay runs every accepted task; a relay that refunded one is played by a fetch here.
    const refunded: TaskView = {
      id: sha256Hex(new Uint8Array([3])) as TaskId,
      requester: aliceKey.accountId,
      model: languageId.id,
      state: 'refunded',
      price: 1,
      maxPrice: 50,
      units: 1,
      submittedAt: Date.now(),
      error: { code: 'inference-failed', message: 'the model failed' },
    };
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    const fakeRelay: FetchLike = (input) =>
      Promise.resolve(
        input.endsWith('/result')
          ? json(409, { error: { code: 'no-result', message: 'the task ended refunded without a result' } })
          : input.includes('/api/tasks/')
            ? json(200, { task: refunded })
            : new Response('<html>502 Bad Gateway</html>', { status: 502 }),
      );
    const client = new AIComputeClient({ relayUrl: 'http://relay.invalid', signer: aliceKey, fetch: fakeRelay });
    const failed = await rejection(client.waitForResult(refunded.id));
    expect(failed).toBeInstanceOf(TaskFailedError);
    expect(failed).toMatchObject({ code: 'task-failed', task: { state: 'refunded' } });
    expect(isRetryable(failed)).toBe(false);

    const proxied = await rejection(client.balance());
    expect(proxied).toBeInstanceOf(InvalidRelayResponseError);
    expect(isRetryable(proxied)).toBe(true);
  });

  it('refuses a relay whose key is not the pinned one', async () => {
    const pinnedElsewhere = new AIComputeClient({
      relayUrl: relay.url,
      signer: aliceKey,
      pinnedRelay: bobKey.accountId,
    });
    const error = await rejection(pinnedElsewhere.status());
    expect(error).toBeInstanceOf(RelayKeyMismatchError);
    expect(error).toMatchObject({ code: 'relay-key-mismatch', pinned: bobKey.accountId, actual: network });
    expect(isRetryable(error)).toBe(false);
    // Every call checks the key before it sends anything.
    expect(await rejection(pinnedElsewhere.balance())).toBeInstanceOf(RelayKeyMismatchError);
    expect(
      await rejection(pinnedElsewhere.submitTask({ model: languageId.id, input: french, maxPrice: 50 })),
    ).toBeInstanceOf(RelayKeyMismatchError);
  });

  it('tells an unreachable relay apart, as retryable', async () => {
    const port = await closedPort();
    const offline = new AIComputeClient({
      relayUrl: `http://127.0.0.1:${port}`,
      signer: aliceKey,
      pinnedRelay: network,
    });
    // Signing needs no relay when the key is pinned (the offline outbox does this).
    const signed = await offline.signTask({ model: languageId.id, input: french, maxPrice: 50 });
    const error = await rejection(offline.submitSignedTask(signed.envelope, signed.input));
    expect(error).toBeInstanceOf(RelayUnreachableError);
    expect(error).toMatchObject({ code: 'relay-unreachable' });
    expect(isRetryable(error)).toBe(true);
    // Delivered later, it is accepted.
    expect((await alice.submitSignedTask(signed.envelope, signed.input)).task.id).toBe(signed.taskId);
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}
