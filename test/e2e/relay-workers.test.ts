/**
 * The brokered path against the real relay process: a desktop worker (a
 * js-libp2p node running the real pipeline on onnxruntime-node) connects,
 * stakes and advertises; a task submitted over HTTP is forwarded to it over
 * a libp2p stream, its signed receipt is checked and the escrow settles to it
 * minus the relay's fee. An unstaked worker is not given paid work.
 */
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { onboardAccount, relayApi, runTextTask } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { pipelineAnswerer, startSchedulerTestWorker, type SchedulerTestWorker } from '#test/scheduler-worker.ts';
import { peerIdFromString } from '@libp2p/peer-id';

const FEE_BPS = 1000;
const STAKE = 100;
let relay: RelayProcess;
let network: AccountId;
let languageId: ModelEntry;
const workers: SchedulerTestWorker[] = [];
const releases: (() => Promise<void>)[] = [];
const alice = generateNobleSigner();

const api = relayApi(() => relay.url);
const onboard = (account: Signer) => onboardAccount(api, network, account);

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

const runTask = (text: string) => runTextTask(api, alice, network, languageId.id, text);

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
    // No known-answer canaries: one joins a dispatch at random (2% by default), paid to the worker beside the
    // test's own task, and would move the worker's balance by a task this test did not send.
    '--canary-rate',
    '0',
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
