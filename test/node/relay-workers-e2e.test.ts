/**
 * The brokered path against the real relay process: a desktop worker (a
 * js-libp2p node running the real pipeline on onnxruntime-node) connects,
 * stakes and advertises; a task submitted over HTTP is forwarded to it over
 * a libp2p stream, its signed receipt is checked and the escrow settles to it
 * minus the relay's fee. An unstaked worker is not given paid work.
 */
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex, toBase64Url } from '../../shared/encoding/bytes.ts';
import { encodeEnvelope, signEnvelope } from '../../shared/envelope/envelope.ts';
import type { AccountId, Hash } from '../../shared/identity/ids.ts';
import { generateNobleSigner, type Signer } from '../../shared/identity/signer.ts';
import { nobleVerifier } from '../../shared/identity/verifier.ts';
import { signTransaction } from '../../shared/ledger/transaction.ts';
import type { Catalogue, ModelEntry } from '../../shared/models/catalogue.ts';
import { solvePow } from '../../shared/pow/pow.ts';
import { startRelayProcess, type RelayProcess } from '../support/relay-process.ts';
import { pipelineAnswerer, startSchedulerTestWorker, type SchedulerTestWorker } from '../support/scheduler-worker.ts';
import { peerIdFromString } from '@libp2p/peer-id';

const FEE_BPS = 1000;
const STAKE = 100;
let relay: RelayProcess;
let network: AccountId;
let languageId: ModelEntry;
const workers: SchedulerTestWorker[] = [];
const releases: (() => Promise<void>)[] = [];
const alice = generateNobleSigner();

async function api(path: string, body?: unknown) {
  const response = await fetch(relay.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function onboard(account: Signer): Promise<void> {
  const pow = await solvePow({ network, publicKey: account.publicKey, difficulty: 4 });
  expect((await api('/api/onboard', { publicKey: toBase64Url(account.publicKey), pow })).status).toBe(201);
}

async function startWorker(stake: boolean): Promise<SchedulerTestWorker> {
  const { multiaddrs } = (await api('/api/network/bootstrap')).body as { multiaddrs: string[] };
  const { answer, release } = await pipelineAnswerer(languageId, nobleVerifier);
  releases.push(release);
  const worker = await startSchedulerTestWorker({ network, relayAddr: multiaddr(multiaddrs[0]), answer });
  workers.push(worker);
  await onboard(worker.signer);
  if (stake) {
    const tx = await signTransaction(worker.signer, 'tx/stake', { v: 1, net: network, amount: STAKE, seq: 1 });
    expect((await api('/api/ledger/tx', { tx: toBase64Url(tx) })).status).toBe(201);
  }
  expect(await worker.advertise(peerIdFromString(network), { models: [languageId.id] })).toEqual({ ok: true });
  return worker;
}

async function runTask(text: string) {
  const input = new TextEncoder().encode(text);
  const task = encodeEnvelope(
    await signEnvelope(alice, 'task', {
      v: 1,
      net: network,
      model: languageId.id,
      input: sha256Hex(input) as Hash,
      inputBytes: input.length,
      maxPrice: 10,
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      ts: Date.now(),
    }),
  );
  const submitted = await api('/api/tasks', { task: toBase64Url(task), input: toBase64Url(input) });
  expect(submitted.status).toBe(201);
  const id = (submitted.body.task as { id: string }).id;
  for (let i = 0; i < 200; i++) {
    const view = (await api(`/api/tasks/${id}`)).body.task as { state: string; worker: string; price: number };
    if (view.state === 'settled') return view;
    if (view.state === 'refunded') throw new Error(`task refunded: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('task did not settle');
}

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
  ]);
  network = (await api('/api/onboard')).body.network as AccountId;
  const catalogue = (await api('/api/models')).body as unknown as Catalogue;
  const entry = catalogue.models.find((m) => m.kind === 'language-id');
  if (!entry) throw new Error('no language-id model');
  languageId = entry;
  await onboard(alice);
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  for (const release of releases) await release();
  expect(await relay.stop()).toBe(0);
  await relay.cleanup();
});

describe('desktop workers on the brokered path', () => {
  it('gives paid work only to a staked worker', async () => {
    await startWorker(false);
    const view = await runTask('Dit is een zin in het Nederlands over het weer.');
    expect(view.worker).toBe(network); // ran on the relay's own pool
  });

  it('forwards a task to a staked worker over libp2p and settles to it minus the fee', async () => {
    const worker = await startWorker(true);
    const before = (await api(`/api/ledger/balance/${worker.account}`)).body.balance as number;
    const relayBefore = (await api(`/api/ledger/balance/${network}`)).body.balance as number;
    const view = await runTask('Questa è una frase scritta in italiano per la prova.');
    expect(view.worker).toBe(worker.account);
    const result = (await api(`/api/tasks/${(view as unknown as { id: string }).id}/result`)).body;
    expect(typeof result.receipt).toBe('string');
    const fee = Math.floor((view.price * FEE_BPS) / 10_000);
    expect((await api(`/api/ledger/balance/${worker.account}`)).body.balance).toBe(before + view.price - fee);
    expect((await api(`/api/ledger/balance/${network}`)).body.balance).toBe(relayBefore + fee);
    expect((await api(`/api/ledger/balance/${worker.account}`)).body.reputation).toBeGreaterThan(500);
  });
});
