/**
 * The whole network end to end: the real relay process; one phone (the app
 * in headless Chromium); two desktop workers (the app with Contribute
 * switched on, each in its own Chromium profile); one Node worker process.
 *
 * The phone sends 20 tasks of two models every worker offers (language
 * identification and k-means), some from the Run screen and the rest through
 * the app's services: the relay escrows each and assigns it to a worker, the
 * phone dials that worker over a direct WebRTC connection (never the relay's
 * circuit), brings the signed receipt back, and the relay settles it. The
 * phone verifies a sample as a light client. Every worker is paid for some
 * (the busiest steps aside between rounds), and every token is accounted for: balances, stakes and open escrows of all
 * accounts add up to the tokens granted.
 *
 * Then a desktop worker's page is closed just after the relay assigned it a
 * task: the phone cannot reach it, the task runs elsewhere, and the closed
 * worker is paid nothing for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { signAssignment } from '#core/messages/assignment.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { solvePow } from '#core/pow/pow.ts';
import { AIComputeClient, exchangeDirect, type DirectExchange } from '#client/sdk/index.ts';
import { launchAppBrowser, type AppBrowser } from '#test/app-browser.ts';
import { chooseModel, navigateTo, openOnboardedApp, verifyFromTaskList } from '#test/app-session.ts';
import { ensureAppBuiltForTests } from '#test/build-app.ts';
import {
  appAccount,
  runOnNetworkFromUi,
  startDesktopWorker,
  submitFromPhone,
  type DesktopWorker,
  type PhoneRun,
} from '#test/network-session.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { startWorkerProcess, type WorkerProcess } from '#test/worker-process.ts';

const STAKE = 100;

let relay: RelayProcess;
let desktops: DesktopWorker[] = [];
let nodeWorker: WorkerProcess;
let nodeWorkerDir: string;
let nodeAccount: string;
let phoneBrowser: AppBrowser;
let phone: Page;
let phoneAccount: string;
let languageId: ModelEntry;
let kmeans: ModelEntry;
let regression: ModelEntry;
/** Every task the phone sent, with how it ended. */
const runs: PhoneRun[] = [];

const SENTENCES = [
  'Dit is een korte Nederlandse zin over het weer van vandaag.',
  'The weather is lovely today and we are going for a long walk.',
  'Questa è una breve frase italiana sul tempo di oggi.',
  'Esta es una frase corta en español sobre el tiempo de hoy.',
  'Dette er en kort norsk setning om været i dag.',
  'Ceci est une phrase en français pour le test.',
  'Das ist ein kurzer deutscher Satz über das Wetter.',
];

/** A task's input bytes and the most it may cost, built with the model's own pipeline. */
function job(entry: ModelEntry, raw: unknown): { model: string; input: number[]; maxPrice: number } {
  const pipeline = pipelineFor(entry.pre);
  if (pipeline === undefined) throw new Error(`no pipeline for ${entry.name}`);
  const bytes = pipeline.encodeInput(raw);
  const decoded = pipeline.decodeInput(bytes);
  if (!decoded.ok) throw decoded.error;
  return { model: entry.id, input: [...bytes], maxPrice: pipeline.units(decoded.value) * entry.price.perUnit };
}

function languageJob(i: number) {
  return job(languageId, `${SENTENCES[i % SENTENCES.length] ?? ''} (${i})`);
}

function kmeansJob(i: number) {
  const rows = [
    [1, 1],
    [1.5, 2],
    [1, 1.8],
    [8, 8],
    [9, 9.5],
    [8.5, 9 + i / 10],
  ];
  return job(kmeans, { rows, k: 2 });
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`${relay.url}${path}`);
  if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
  return (await response.json()) as T;
}

/** What an account holds: free balance and stake (its reputation moves with every task, not its tokens). */
async function holdings(account: string): Promise<{ balance: number; stake: number }> {
  const { balance, stake } = await getJson<{ balance: number; stake: number }>(`/api/ledger/balance/${account}`);
  return { balance, stake };
}

async function taskView(id: string): Promise<{ state: string; worker?: string; price: number }> {
  return (await getJson<{ task: { state: string; worker?: string; price: number } }>(`/api/tasks/${id}`)).task;
}

/** Waits until every task of the phone is settled or refunded. */
async function allFinished(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const { tasks } = await getJson<{ tasks: { state: string }[] }>(`/api/tasks?account=${phoneAccount}&limit=100`);
    if (tasks.every((t) => t.state === 'settled' || t.state === 'refunded')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the phone’s tasks did not all finish');
}

/** The worker that ran the most of `list`. */
function busiest(list: readonly PhoneRun[]): string {
  const counts = new Map<string, number>();
  for (const run of list) counts.set(run.worker, (counts.get(run.worker) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}

/**
 * Takes a worker out of the relay's choice (`away`) or back: a desktop tab is
 * hidden (it pauses and advertises no models); the Node worker is told, on
 * its terminal, to offer only a model the phone does not send here.
 */
async function sideline(worker: string, away: boolean): Promise<void> {
  const desktop = desktops.find((d) => d.account === worker);
  if (desktop !== undefined) {
    await (away ? desktop.hide() : desktop.show());
    return;
  }
  if (worker !== nodeAccount) throw new Error(`${worker} is none of the workers`);
  const from = nodeWorker.lines.length;
  nodeWorker.child.stdin.write(`models ${away ? regression.name : `${languageId.name},${kmeans.name}`}\n`);
  await nodeWorker.waitFor(/ advert accepted /, { from, timeoutMs: 30_000 });
}

function expectDirect(list: readonly PhoneRun[]): void {
  const workers = new Set([nodeAccount, ...desktops.map((d) => d.account)]);
  for (const run of list) {
    expect({ id: run.id, via: run.via, state: run.state, reason: run.fallbackReason }).toEqual({
      id: run.id,
      via: 'webrtc',
      state: 'settled',
      reason: '',
    });
    expect(workers.has(run.worker)).toBe(true);
    // The SDK only says `webrtc` for a connection whose last hop is WebRTC and libp2p put no relay limits on.
    expect(run.remoteAddr).toMatch(new RegExp(`/webrtc/p2p/${run.worker}$`));
  }
}

beforeAll(async () => {
  await ensureAppBuiltForTests();
  relay = await startRelayProcess([
    '--pow-difficulty',
    '8',
    '--min-worker-stake',
    String(STAKE),
    '--canary-rate',
    '0',
    '--recheck-rate',
    '0',
    '--fee-bps',
    '500',
    '--block-interval',
    '200',
  ]);
  const { models } = await getJson<{ models: ModelEntry[] }>('/api/models');
  const find = (test: (m: ModelEntry) => boolean, what: string): ModelEntry => {
    const found = models.find(test);
    if (found === undefined) throw new Error(`the catalogue has no ${what}`);
    return found;
  };
  languageId = find((m) => m.name === 'lande-t50', 'lande-t50');
  kmeans = find((m) => m.pre === 'kmeans' && m.sizeClass === 'phone', 'k-means model');
  regression = find((m) => m.pre === 'linear-regression' && m.sizeClass === 'phone', 'linear regression model');

  // The desktop tabs advertise first, then the Node worker: all of them are staked, reserved and on WebRTC.
  desktops = await Promise.all([startDesktopWorker(relay), startDesktopWorker(relay)]);
  nodeWorkerDir = await mkdtemp(join(tmpdir(), 'acn-e2e-worker-'));
  nodeWorker = startWorkerProcess([
    '--relay',
    relay.url,
    '--data-dir',
    nodeWorkerDir,
    '--stake',
    String(STAKE),
    '--price',
    '1',
    '--cores',
    '16',
    // Not the regression model: the last test needs a model only the desktop tabs run.
    '--models',
    `${languageId.name},${kmeans.name}`,
  ]);
  const created = await nodeWorker.waitFor(/ key created /);
  nodeAccount = /account=(\S+)/.exec(created)?.[1] ?? '';
  await nodeWorker.waitFor(/ advert accepted .*webrtc=[1-9]/, { timeoutMs: 60_000 });

  phoneBrowser = await launchAppBrowser();
  phone = await openOnboardedApp(phoneBrowser.context, relay);
  phoneAccount = await appAccount(phone);
}, 150_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail before these exist
  await phoneBrowser?.close();
  for (const desktop of desktops) await desktop.browser.close().catch(() => undefined);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  await nodeWorker?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (relay !== undefined) {
    await relay.stop();
    await relay.cleanup();
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (nodeWorkerDir !== undefined) await rm(nodeWorkerDir, { recursive: true, force: true });
}, 60_000);

describe('the network: a phone, two desktop tabs and a Node worker on one relay', () => {
  it('runs 20 tasks from the phone over direct WebRTC, verified on the phone, paid to every worker, every token accounted for', async () => {
    const held = new Map<string, number>();
    // From the Run screen: two language tasks and two k-means tasks, as a user would.
    await navigateTo(phone, '/run');
    await chooseModel(phone, languageId.name);
    const fromUi: { id: string; via: string; remoteAddr: string }[] = [];
    for (const sentence of SENTENCES.slice(0, 2)) {
      await phone.locator('[data-testid=run-text]').fill(sentence);
      fromUi.push(await runOnNetworkFromUi(phone));
    }
    await chooseModel(phone, kmeans.name);
    for (let i = 0; i < 2; i++) fromUi.push(await runOnNetworkFromUi(phone));
    for (const run of fromUi) {
      const view = await taskView(run.id);
      runs.push({ ...run, worker: view.worker ?? '', state: view.state, fallbackReason: '' });
      // The Run screen says which way the task went.
      expect(run.via).toBe('webrtc');
    }

    // Sixteen more through the app's services, four at a time, mixed models. The relay picks the best-scored
    // worker (they tie on price and reputation, so the same one again and again); after each of the first
    // rounds, whoever took most of it steps aside, so every worker gets some of the rest.
    const sidelined: string[] = [];
    for (let round = 0; round < 4; round++) {
      const jobs = [0, 1, 2, 3].map((k) =>
        (round + k) % 2 === 0 ? languageJob(round * 4 + k) : kmeansJob(round * 4 + k),
      );
      const done = await submitFromPhone(phone, jobs);
      runs.push(...done);
      if (round < 2) {
        const worker = busiest(round === 0 ? runs : done);
        await sideline(worker, true);
        sidelined.push(worker);
      }
    }
    for (const worker of sidelined) await sideline(worker, false);

    expect(runs).toHaveLength(20);
    expect(new Set(runs.map((r) => r.id)).size).toBe(20);
    expectDirect(runs);
    const models = new Set(
      await Promise.all(
        runs.map(async (r) => (await getJson<{ task: { model: string } }>(`/api/tasks/${r.id}`)).task.model),
      ),
    );
    expect(models).toEqual(new Set([languageId.id, kmeans.id]));
    const paid = new Set(runs.map((r) => r.worker));
    // The two tabs and the Node worker all ran some.
    expect(paid).toEqual(new Set([nodeAccount, ...desktops.map((d) => d.account)]));

    // Verified on the phone as a light client: the first and last of each way of sending.
    await navigateTo(phone, '/tasks');
    for (const run of [runs[0], runs[3], runs[4], runs[19]]) {
      if (run === undefined) continue;
      await navigateTo(phone, '/tasks');
      expect(await verifyFromTaskList(phone, run.id)).toBe('true');
    }

    // Every token: balances + stakes (+ escrows, none open once every task finished) = the grants.
    await allFinished();
    const accounts = [relay.relayAccount, phoneAccount, nodeAccount, ...desktops.map((d) => d.account)];
    const stats = await getJson<{ ledger: { supply: number; accounts: number } }>('/api/network/stats');
    // No account outside these holds anything (the relay's appears once a fee reaches it).
    expect(stats.ledger.accounts).toBeLessThanOrEqual(accounts.length);
    let total = 0;
    for (const account of accounts) {
      const { balance, stake } = await holdings(account);
      held.set(account, balance + stake);
      total += balance + stake;
    }
    expect(total).toBe(stats.ledger.supply);
    // Each worker that ran tasks earned: it holds more than it was granted (the grant is what everyone got).
    const grant = (await getJson<{ grant: number }>('/api/onboard')).grant;
    for (const worker of paid) expect(held.get(worker) ?? 0).toBeGreaterThan(grant);
  }, 180_000);

  it('a desktop tab runs a direct task only with the relay’s assignment naming it, once, and is paid for it', async () => {
    // A Node requester with the SDK's exchange on its own libp2p node, so it can bring what the app never would.
    const network = relay.relayAccount as AccountId;
    const requester = generateNobleSigner();
    const client = new AIComputeClient({ relayUrl: relay.url, signer: requester, pinnedRelay: network });
    const puzzle = await client.onboardPuzzle();
    await client.onboard(await solvePow({ network, publicKey: requester.publicKey, difficulty: puzzle.difficulty }));
    const peer = await createLibp2p({
      transports: [webSockets(), circuitRelayTransport(), webRTC()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify() },
    });
    try {
      const port = new URL(relay.url).port;
      await peer.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}/ws/p2p/${network}`));
      // Only the desktop tabs offer the regression model.
      const regressionInput = (n: number) =>
        Uint8Array.from(
          job(regression, {
            rows: [
              [1, 2],
              [2, 4],
              [3, 6 + n],
            ],
            target: 1,
          }).input,
        );
      const signed = await client.signTask({ model: regression.id, input: regressionInput(0), maxPrice: 1000 });
      const { direct } = await client.submitDirectTask(signed.envelope, signed.input);
      if (direct === undefined) throw new Error('no direct offer');
      const tab = desktops.find((d) => d.account === direct.worker);
      if (tab === undefined) throw new Error(`the relay assigned ${direct.worker}, not a desktop tab`);
      const exchange: DirectExchange = {
        worker: direct.worker,
        addrs: direct.addrs,
        task: signed.envelope,
        taskId: signed.taskId,
        input: signed.input,
        assignment: direct.assignment,
        network,
      };
      const options = { dialTimeoutMs: 10_000, answerTimeoutMs: 10_000, verifier: nobleVerifier };
      const refused = {
        name: 'DirectDialError',
        reason: 'worker-error',
        message: expect.stringMatching(/unauthorized/) as unknown,
      };
      // No assignment at all, or one signed by the requester instead of the relay: refused.
      await expect(exchangeDirect(peer, { ...exchange, assignment: new Uint8Array(0) }, options)).rejects.toMatchObject(
        refused,
      );
      const forged = await signAssignment(requester, {
        v: 1,
        net: network,
        task: signed.taskId,
        model: regression.id,
        worker: direct.worker,
        expires: Date.now() + 60_000,
        ts: Date.now(),
      });
      await expect(exchangeDirect(peer, { ...exchange, assignment: forged }, options)).rejects.toMatchObject(refused);
      // The relay's assignment shown with another task: refused.
      const other = await client.signTask({ model: regression.id, input: regressionInput(1), maxPrice: 1000 });
      await expect(
        exchangeDirect(peer, { ...exchange, task: other.envelope, taskId: other.taskId, input: other.input }, options),
      ).rejects.toMatchObject(refused);

      const before = await holdings(tab.account);
      const answer = await exchangeDirect(peer, exchange, options);
      expect(answer.remoteAddr).toMatch(new RegExp(`/webrtc/p2p/${tab.account}$`));
      // The same assignment buys one run.
      await expect(exchangeDirect(peer, exchange, options)).rejects.toMatchObject(refused);
      const view = await client.submitDirectReceipt(signed.taskId, answer.receipt, answer.output);
      expect(view).toMatchObject({ state: 'settled', worker: tab.account });
      const fee = Math.floor((view.price * 500) / 10_000);
      expect(await holdings(tab.account)).toEqual({ ...before, balance: before.balance + view.price - fee });
    } finally {
      await peer.stop();
    }
  }, 60_000);

  it('runs a task elsewhere when the desktop tab it was assigned to closes, and pays the closed tab nothing for it', async () => {
    // Only the desktop tabs offer the regression model; the relay's answer is held until the assigned tab is gone.
    let closed: DesktopWorker | undefined;
    let before: { balance: number; stake: number } | undefined;
    await phoneBrowser.context.route(`${relay.url}/api/tasks`, async (route) => {
      const response = await route.fetch();
      const body = await response.text();
      const worker = (JSON.parse(body) as { direct?: { worker: string } }).direct?.worker;
      const desktop = desktops.find((d) => d.account === worker);
      if (desktop !== undefined && closed === undefined) {
        closed = desktop;
        before = await holdings(desktop.account);
        await desktop.browser.close();
      }
      await route.fulfill({ response, body });
    });
    const started = Date.now();
    const [run] = await submitFromPhone(phone, [
      job(regression, {
        rows: [
          [1, 2],
          [2, 4.1],
          [3, 5.9],
          [4, 8.2],
        ],
        target: 1,
      }),
    ]);
    await phoneBrowser.context.unroute(`${relay.url}/api/tasks`);
    if (closed === undefined || before === undefined || run === undefined)
      throw new Error('no desktop tab was assigned the task');
    const gone = closed;
    desktops = desktops.filter((d) => d !== gone);
    // The phone could not reach the closed tab: the relay ran the task brokered, on another worker or its pool.
    expect({ via: run.via, state: run.state }).toEqual({ via: 'relay', state: 'settled' });
    expect(run.fallbackReason).not.toBe('');
    expect(run.worker).not.toBe(gone.account);
    // Well within the assignment's lifetime: the phone asked for the fallback at once rather than waiting it out.
    expect(Date.now() - started).toBeLessThan(20_000);
    await allFinished();
    expect(await holdings(gone.account)).toEqual(before);
  }, 60_000);
});
