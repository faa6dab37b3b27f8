/**
 * End to end against the real relay process: two onboarded accounts submit
 * signed tasks over HTTP, the relay runs them on its own pool, and the client
 * checks what a phone checks: the worker's receipt signature, the output hash,
 * and the Merkle inclusion proof of the settlement; balances and the fee add up.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fromBase64Url, sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import { decodeEnvelope, encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId } from '#core/identity/ids.ts';
import { generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { readBlockHeader, verifyTxInclusion } from '#core/ledger/block.ts';
import { readTransaction } from '#core/ledger/transaction.ts';
import type { Catalogue } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { decodeReceiptPayload } from '#core/messages/receipt.ts';
import type { TaskPayload } from '#core/messages/task.ts';
import { solvePow } from '#core/pow/pow.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';

const FEE_BPS = 500;
let relay: RelayProcess;
let network: AccountId;
let catalogue: Catalogue;
const alice = generateNobleSigner();
const bob = generateNobleSigner();

async function api(path: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(relay.url + path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function errorCode(response: { body: Record<string, unknown> }): unknown {
  return (response.body.error as { code?: unknown } | undefined)?.code;
}

async function onboard(account: Signer): Promise<void> {
  const puzzle = await api('/api/onboard');
  const pow = await solvePow({ network, publicKey: account.publicKey, difficulty: puzzle.body.difficulty as number });
  expect((await api('/api/onboard', { body: { publicKey: toBase64Url(account.publicKey), pow } })).status).toBe(201);
}

async function signedTask(requester: Signer, model: ModelId, input: Uint8Array, overrides: Partial<TaskPayload> = {}) {
  const payload: TaskPayload = {
    v: 1,
    net: network,
    model,
    input: sha256Hex(input) as Hash,
    inputBytes: input.length,
    maxPrice: 50,
    nonce: crypto.getRandomValues(new Uint8Array(16)),
    ts: Date.now(),
    ...overrides,
  };
  return encodeEnvelope(await signEnvelope(requester, 'task', payload));
}

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const modelOf = (kind: string) => {
  const entry = catalogue.models.find((m) => m.kind === kind);
  if (!entry) throw new Error(`no ${kind} model`);
  return entry;
};

beforeAll(async () => {
  relay = await startRelayProcess(['--pow-difficulty', '6', '--block-interval', '200', '--fee-bps', String(FEE_BPS)]);
  network = (await api('/api/onboard')).body.network as AccountId;
  catalogue = (await api('/api/models')).body as unknown as Catalogue;
  await onboard(alice);
  await onboard(bob);
}, 120_000);

afterAll(async () => {
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
});

describe('tasks on the relay pool', () => {
  it('runs a signed task, returns a verifiable receipt and settles it with the fee', async () => {
    const grant = (await api(`/api/ledger/balance/${alice.accountId}`)).body.balance as number;
    const languageId = modelOf('language-id');
    const input = new TextEncoder().encode('Le train de nuit arrive à la gare de Lyon demain matin.');
    const task = await signedTask(alice, languageId.id, input);
    const submitted = await api('/api/tasks', { body: { task: toBase64Url(task), input: toBase64Url(input) } });
    expect(submitted.status).toBe(201);
    const id = (submitted.body.task as { id: string }).id;

    const result = await waitFor(async () => {
      const r = await api(`/api/tasks/${id}/result`);
      return r.status === 200 ? r.body : undefined;
    });
    // What a phone checks: the receipt is the relay's signature over this task and this output.
    const receiptBytes = fromBase64Url(result.receipt as string);
    const receipt = readMessage(receiptBytes, 'receipt', decodeReceiptPayload, nobleVerifier);
    if (!receipt.ok) throw receipt.error;
    expect(receipt.value.signer).toBe(network);
    expect(receipt.value.payload.task).toBe(id);
    const output = fromBase64Url(result.output as string);
    expect(sha256Hex(output)).toBe(receipt.value.payload.output);
    const decoded = pipelineFor(languageId.pre)?.decodeOutput(output);
    expect(decoded?.ok && (decoded.value as { label: string }).label).toBe('fra');

    // Settled: the settlement carries this very receipt and is proven in a block.
    const view = await waitFor(async () => {
      const t = (await api(`/api/tasks/${id}`)).body.task as { state: string; settleTx?: string; price: number };
      return t.state === 'settled' ? t : undefined;
    });
    const proof = await waitFor(async () => {
      const p = await api(`/api/ledger/proof/${view.settleTx as string}`);
      return p.status === 200 ? p.body : undefined;
    });
    const header = readBlockHeader(fromBase64Url(proof.header as string), nobleVerifier);
    if (!header.ok) throw header.error;
    const settleBytes = fromBase64Url(proof.tx as string);
    expect(verifyTxInclusion(header.value, settleBytes, proof.proof as Parameters<typeof verifyTxInclusion>[2])).toBe(
      true,
    );
    const settle = readTransaction(settleBytes, nobleVerifier);
    if (!settle.ok || settle.value.type !== 'tx/settle') throw new Error('not a settlement');
    expect(settle.value.receipt.id).toBe(receipt.value.id);

    // Balances: the requester paid the price; the relay ran it, so it keeps the fee and the worker's share.
    const price = view.price;
    expect(price).toBe(languageId.price.perUnit);
    expect((await api(`/api/ledger/balance/${alice.accountId}`)).body.balance).toBe(grant - price);
    const fee = Math.floor((price * FEE_BPS) / 10_000);
    const workerShare = price - fee;
    expect(settle.value.message.payload.price).toBe(price);
    expect((await api(`/api/ledger/balance/${network}`)).body.balance).toBe(workerShare + fee);
  });

  it('is idempotent: the same signed task submitted twice is escrowed and run once', async () => {
    const before = (await api(`/api/ledger/balance/${bob.accountId}`)).body.balance as number;
    const clothing = modelOf('image-classification');
    const image = new Uint8Array(28 * 28).fill(0);
    for (let y = 4; y < 24; y++) for (let x = 10; x < 18; x++) image[y * 28 + x] = 220;
    const input = pipelineFor(clothing.pre)?.encodeInput({ width: 28, height: 28, channels: 1, data: image });
    if (!input) throw new Error('no pipeline');
    const task = await signedTask(bob, clothing.id, input);
    const first = await api('/api/tasks', { body: { task: toBase64Url(task), input: toBase64Url(input) } });
    const second = await api('/api/tasks', { body: { task: toBase64Url(task), input: toBase64Url(input) } });
    expect([first.status, second.status]).toEqual([201, 200]);
    const id = (first.body.task as { id: string }).id;
    expect((second.body.task as { id: string }).id).toBe(id);
    await waitFor(async () => {
      const t = (await api(`/api/tasks/${id}`)).body.task as { state: string };
      return t.state === 'settled' ? t : undefined;
    });
    expect((await api(`/api/ledger/balance/${bob.accountId}`)).body.balance).toBe(before - clothing.price.perUnit);
    const listed = (await api(`/api/tasks?account=${bob.accountId}`)).body.tasks as { id: string }[];
    expect(listed.map((t) => t.id)).toEqual([id]);
  });

  it('refuses bad tasks with typed errors and takes no money', async () => {
    const before = (await api(`/api/ledger/balance/${alice.accountId}`)).body.balance as number;
    const languageId = modelOf('language-id');
    const input = new TextEncoder().encode('Hello there, how are you today?');
    const poor = generateNobleSigner();
    const forged = decodeEnvelope(await signedTask(alice, languageId.id, input));
    if (!forged.ok) throw forged.error;
    const sig = forged.value.sig.slice();
    sig[5] = (sig[5] as number) ^ 4;
    const submit = (task: Uint8Array, body: Uint8Array = input) =>
      api('/api/tasks', { body: { task: toBase64Url(task), input: toBase64Url(body) } });
    const cases: [string, Awaited<ReturnType<typeof api>>, number, string][] = [
      [
        'other input',
        await submit(await signedTask(alice, languageId.id, input), new Uint8Array([1, 2])),
        400,
        'input-mismatch',
      ],
      ['unknown model', await submit(await signedTask(alice, 'ab'.repeat(32) as ModelId, input)), 404, 'unknown-model'],
      [
        'price too low',
        await submit(await signedTask(alice, languageId.id, input, { maxPrice: 0 })),
        402,
        'price-too-low',
      ],
      ['no funds', await submit(await signedTask(poor, languageId.id, input)), 402, 'insufficient-funds'],
      ['bad signature', await submit(encodeEnvelope({ ...forged.value, sig })), 401, 'bad-signature'],
      [
        'stale',
        await submit(await signedTask(alice, languageId.id, input, { ts: Date.now() - 3 * 86_400_000 })),
        400,
        'clock-skew',
      ],
      [
        'other network',
        await submit(await signedTask(alice, languageId.id, input, { net: bob.accountId })),
        400,
        'wrong-network',
      ],
      ['not a task', await submit(new Uint8Array([0xa0])), 400, 'malformed-encoding'],
      ['missing input', await api('/api/tasks', { body: { task: 'AAAA' } }), 400, 'invalid-message'],
      ['unknown task', await api(`/api/tasks/${'0'.repeat(64)}`), 404, 'unknown-task'],
    ];
    for (const [name, response, status, code] of cases) {
      expect({ name, status: response.status, code: errorCode(response) }).toEqual({ name, status, code });
    }
    expect((await api(`/api/ledger/balance/${alice.accountId}`)).body.balance).toBe(before);
  });

  it('changes the pool allocation live and reports the network', async () => {
    const before = (await api('/api/resources')).body as { allocation: { ram: number }; pool: { memoryBytes: number } };
    expect(before.allocation.ram).toBe(25);
    // Changing the relay's pool is the operator's: the token the relay wrote to its data directory.
    const token = (await readFile(join(relay.dataDir, 'operator.token'), 'latin1')).trim();
    const operator = async (body: unknown) => {
      const response = await fetch(relay.url + '/api/resources', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const next = {
      preset: 'custom',
      cpu: 50,
      ram: 50,
      storage: 10,
      gpu: 0,
      pauseWhenHidden: false,
      pauseOnBattery: false,
    };
    const changed = await operator(next);
    expect(changed.status).toBe(200);
    const pool = (changed.body as { pool: { memoryBytes: number; state: string } }).pool;
    expect(pool.memoryBytes).toBe(before.pool.memoryBytes * 2);
    expect(pool.state).toBe('running');
    const refused = await operator({ ...next, cpu: 95 });
    expect([refused.status, errorCode(refused)]).toEqual([400, 'invalid-allocation']);
    expect(((await api('/api/resources')).body as { allocation: { ram: number } }).allocation.ram).toBe(50);

    const health = await api('/api/network/health');
    expect(health.body).toMatchObject({ healthy: true, ready: true, pool: 'running' });
    const bootstrap = (await api('/api/network/bootstrap')).body as { peerId: string; multiaddrs: string[] };
    expect(bootstrap.peerId).toBe(network);
    expect(bootstrap.multiaddrs.every((a) => a.endsWith(`/p2p/${network}`))).toBe(true);
    const stats = (await api('/api/network/stats')).body as { ledger: { supply: number }; tasks: { recent: number } };
    expect(stats.ledger.supply).toBeGreaterThan(0);
    expect(stats.tasks.recent).toBeGreaterThanOrEqual(2);
    expect((await api('/api/peers')).body).toHaveProperty('peers');
    expect((await api('/api/network/nodes')).body).toHaveProperty('relay');
  });

  it('streams task and block events to a subscriber filtered by account, and exports metrics', async () => {
    const socket = new WebSocket(`${relay.url.replace('http', 'ws')}/api/events?account=${alice.accountId}`);
    const seen: { type: string; data: { id?: string; requester?: string } }[] = [];
    socket.on('message', (data: Buffer) => {
      seen.push(JSON.parse(data.toString()) as (typeof seen)[number]);
    });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const languageId = modelOf('language-id');
    const input = new TextEncoder().encode('Das Wetter ist heute sehr schön und warm.');
    const mine = await api('/api/tasks', {
      body: { task: toBase64Url(await signedTask(alice, languageId.id, input)), input: toBase64Url(input) },
    });
    const other = new TextEncoder().encode('El tren sale de la estación a las ocho.');
    await api('/api/tasks', {
      body: { task: toBase64Url(await signedTask(bob, languageId.id, other)), input: toBase64Url(other) },
    });
    const id = (mine.body.task as { id: string }).id;
    await waitFor(() =>
      Promise.resolve(
        seen.some((e) => e.type === 'task_completed' && e.data.id === id) && seen.some((e) => e.type === 'block_mined')
          ? true
          : undefined,
      ),
    );
    socket.close();
    expect(seen.some((e) => e.type === 'task_submitted' && e.data.id === id)).toBe(true);
    // Bob's task is not Alice's business.
    expect(seen.filter((e) => e.type.startsWith('task_')).every((e) => e.data.requester === alice.accountId)).toBe(
      true,
    );

    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/acn_relay_ledger_height \d+/);
    expect(metrics).toMatch(/acn_relay_http_request_duration_seconds_count\{[^}]*route="\/api\/tasks"/);
    expect(metrics).toContain('acn_relay_tasks{state="settled"}');
  });
});
