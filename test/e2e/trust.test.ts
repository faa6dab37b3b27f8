/**
 * Untrusted workers against the real relay process: a staked worker that
 * returns wrong answers (the runner-up label as its best, with a valid
 * signed receipt) is caught by re-execution and, separately, by known-answer
 * canaries. It is slashed in the ledger, its reputation drops, it gets no
 * more tasks, and it is never paid; every task settles with the honest
 * answer, computed here on onnxruntime-node for comparison.
 */
import { readFile } from 'node:fs/promises';
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrtNodeRuntime } from '#node/inference/ort-node-runtime.ts';
import { fromBase64Url, sha256Hex, toBase64Url } from '#core/encoding/bytes.ts';
import type { AccountId } from '#core/identity/ids.ts';
import { generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { signTransaction } from '#core/ledger/transaction.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { loadPipelineModels, releasePipelineModels } from '#core/models/load-models.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { onboardAccount, relayApi, runTextTask, type SettledTask } from '#test/relay-api.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { pipelineAnswerer, startSchedulerTestWorker, type SchedulerTestWorker } from '#test/scheduler-worker.ts';

const STAKE = 100;
const SENTENCES = [
  'Dit is een zin in het Nederlands over het weer van vandaag.',
  'Questa è una frase scritta in italiano per la prova.',
  'Der Zug nach Berlin fährt heute später ab als geplant.',
  'Le chat dort sur le canapé depuis ce matin.',
  'El tren sale de la estación a las ocho de la mañana.',
];

/** The honest outputs for SENTENCES, from the model run here on onnxruntime-node. */
async function honestOutputs(entry: ModelEntry): Promise<Map<string, string>> {
  const pipeline = pipelineFor(entry.pre);
  if (pipeline === undefined) throw new Error(`no pipeline ${entry.pre}`);
  const models = await loadPipelineModels(
    createOrtNodeRuntime(),
    entry,
    pipeline,
    async (hash) => new Uint8Array(await readFile(`dist/models/${hash}`)),
  );
  try {
    const hashes = new Map<string, string>();
    for (const text of SENTENCES) {
      const input = pipeline.decodeInput(new TextEncoder().encode(text));
      if (!input.ok) throw input.error;
      hashes.set(text, sha256Hex(pipeline.encodeOutput(await pipeline.run(models, input.value))));
    }
    return hashes;
  } finally {
    await releasePipelineModels(models);
  }
}

describe.each([
  { caughtBy: 'a re-run of its result', flags: ['--recheck-rate', '1', '--canary-rate', '0'] },
  { caughtBy: 'a known-answer canary', flags: ['--recheck-rate', '0', '--canary-rate', '1'] },
])('a lying worker caught by $caughtBy', ({ flags }) => {
  let relay: RelayProcess;
  let network: AccountId;
  let entry: ModelEntry;
  let liar: SchedulerTestWorker;
  let honest: Map<string, string>;
  const releases: (() => Promise<void>)[] = [];
  const alice = generateNobleSigner();

  const api = relayApi(() => relay.url);
  const onboard = (signer: Signer) => onboardAccount(api, network, signer);

  async function account(id: string) {
    return (await api(`/api/ledger/balance/${id}`)).body as { balance: number; stake: number; reputation: number };
  }

  const runTask = (text: string) => runTextTask(api, alice, network, entry.id, text);

  beforeAll(async () => {
    relay = await startRelayProcess([
      '--pow-difficulty',
      '4',
      '--grant',
      '5000',
      '--min-worker-stake',
      String(STAKE),
      '--block-interval',
      '200',
      ...flags,
    ]);
    network = (await api('/api/onboard')).body.network as AccountId;
    const catalogue = (await api('/api/models')).body as unknown as Catalogue;
    const found = catalogue.models.find((m) => m.kind === 'language-id');
    if (!found) throw new Error('no language-id model');
    entry = found;
    honest = await honestOutputs(entry);
    await onboard(alice);

    const { multiaddrs } = (await api('/api/network/bootstrap')).body as { multiaddrs: string[] };
    const { answer, release } = await pipelineAnswerer(entry, nobleVerifier, { lying: true });
    releases.push(release);
    liar = await startSchedulerTestWorker({ network, relayAddr: multiaddr(multiaddrs[0]), answer });
    await onboard(liar.signer);
    const stake = await signTransaction(liar.signer, 'tx/stake', { v: 1, net: network, amount: STAKE, seq: 1 });
    expect((await api('/api/ledger/tx', { tx: toBase64Url(stake) })).status).toBe(201);
    expect(await liar.advertise(peerIdFromString(network), { models: [entry.id] })).toEqual({ ok: true });
  }, 120_000);

  afterAll(async () => {
    await liar.stop();
    for (const release of releases) await release();
    expect(await relay.stop()).toBe(0);
    await relay.cleanup();
  });

  it('is slashed, loses reputation and work, and every task settles with the honest answer', async () => {
    const before = await account(liar.account);
    expect(before.stake).toBe(STAKE);

    const [first, ...rest] = SENTENCES as [string, ...string[]];
    const firstView = await runTask(first);
    expect(liar.received).toBeGreaterThan(0); // it did get the work, and answered it wrongly
    const receivedWhenCaught = liar.received;

    const views = [firstView];
    for (const text of rest) views.push(await runTask(text));
    // Caught on the first task: nothing more went to it.
    expect(liar.received).toBe(receivedWhenCaught);

    for (const [i, view] of views.entries()) {
      const text = SENTENCES[i] as string;
      expect(view.worker, text).not.toBe(liar.account);
      expect(view.outputHash, text).toBe(honest.get(text));
      const result = (await api(`/api/tasks/${view.id}/result`)).body as { output: string };
      expect(sha256Hex(fromBase64Url(result.output)), text).toBe(honest.get(text));
    }
    // The slash names the task whose answer proved the lie: the re-run task itself, or the canary beside it.
    const all = (await api('/api/tasks?limit=1000')).body.tasks as SettledTask[];
    const slashed = all.filter((view) => view.slashTxs.length > 0);
    expect(slashed.length).toBeGreaterThan(0);
    for (const tx of slashed.flatMap((view) => view.slashTxs)) {
      expect((await api(`/api/ledger/tx/${tx}`)).body.type).toBe('tx/slash');
    }

    const after = await account(liar.account);
    expect(after.stake).toBeLessThan(before.stake);
    expect(after.reputation).toBeLessThan(before.reputation);
    // Never paid: its balance moved only by the stake it put up.
    expect(after.balance).toBe(before.balance);
  }, 120_000);
});
