/**
 * Desktop workers, measured against the real relay process: the same
 * language-identification tasks run first on the relay's own pool (no worker
 * connected), then through one Node worker (`npm run worker`) given the same
 * share of the machine as the pool; and, on the worker run, what the relay's
 * checks on untrusted workers (canaries and re-runs, at their default rates)
 * cost as a share of all inference, read from the relay's trust metrics.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccountId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { solvePow } from '#core/pow/pow.ts';
import { AIComputeClient } from '#client/sdk/index.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { startWorkerProcess } from '#test/worker-process.ts';

/** Tasks per phase, and how many are in flight at once. */
const TASKS = 300;
const IN_FLIGHT = 8;
const STAKE = 100;
const SENTENCES = [
  'Der Zug nach Berlin fährt heute später ab als geplant.',
  'Le chat dort sur le canapé depuis ce matin.',
  'El tren sale de la estación a las ocho de la mañana.',
  'Questa è una frase scritta in italiano per la prova.',
  'The weather was lovely and we walked along the river.',
];

interface Phase {
  readonly tasks: number;
  readonly seconds: number;
  /** Tasks whose settled run was the worker's. */
  readonly onWorker: number;
}

/** The relay's trust counters: inference seconds and runs by kind (task, canary, recheck). */
async function trustCompute(relay: RelayProcess): Promise<Record<string, { seconds: number; runs: number }>> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const out: Record<string, { seconds: number; runs: number }> = {};
  for (const line of text.split('\n')) {
    const match = /^acn_relay_trust_(compute_seconds|runs)_total\{kind="(\w+)"\} (\S+)$/.exec(line);
    if (!match) continue;
    const [, what, kind, value] = match as unknown as [string, string, string, string];
    out[kind] ??= { seconds: 0, runs: 0 };
    if (what === 'runs') out[kind].runs = Number(value);
    else out[kind].seconds = Number(value);
  }
  return out;
}

async function runPhase(
  clients: readonly AIComputeClient[],
  entry: ModelEntry,
  worker: AccountId | undefined,
): Promise<Phase> {
  let next = 0;
  let onWorker = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      const client = clients[lane % clients.length] as AIComputeClient;
      while (next < TASKS) {
        const i = next++;
        const input = new TextEncoder().encode(SENTENCES[i % SENTENCES.length]);
        const { task } = await client.submitTask({ model: entry.id, input, maxPrice: 1000 });
        await client.waitForResult(task.id, { pollMs: 20 });
        if (worker !== undefined && (await client.getTask(task.id)).worker === worker) onWorker++;
      }
    }),
  );
  return { tasks: TASKS, seconds: (performance.now() - started) / 1000, onWorker };
}

export async function workersSection(log: (message: string) => void): Promise<void> {
  const workerDir = await mkdtemp(join(tmpdir(), 'acn-bench-worker-'));
  const relay = await startRelayProcess([
    '--pow-difficulty',
    '4',
    '--min-worker-stake',
    String(STAKE),
    '--rate-ip',
    '1000000000',
    '--rate-account',
    '1000000',
  ]);
  const worker = { process: undefined as ReturnType<typeof startWorkerProcess> | undefined };
  try {
    const network = relay.relayAccount as AccountId;
    const clients = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const signer = generateNobleSigner();
        const client = new AIComputeClient({ relayUrl: relay.url, signer, pinnedRelay: network });
        const puzzle = await client.onboardPuzzle();
        await client.onboard(await solvePow({ network, publicKey: signer.publicKey, difficulty: puzzle.difficulty }));
        return client;
      }),
    );
    const entry = (await (clients[0] as AIComputeClient).models()).models.find((m) => m.name === 'lande-t50');
    if (entry === undefined) throw new Error('no lande-t50 model in the catalogue');

    log(`workers: ${TASKS} tasks on the relay's pool`);
    const pool = await runPhase(clients, entry, undefined);

    log('workers: starting a Node worker');
    // The pool has half the machine by default: give the worker the same.
    worker.process = startWorkerProcess([
      '--relay',
      relay.url,
      '--data-dir',
      workerDir,
      '--stake',
      String(STAKE),
      '--cpu',
      '50',
      '--models',
      'lande-t50',
      '--no-webrtc',
    ]);
    const created = await worker.process.waitFor(/ key created /, { timeoutMs: 60_000 });
    const account = /account=(\S+)/.exec(created)?.[1] as AccountId;
    await worker.process.waitFor(/ advert accepted /, { timeoutMs: 60_000 });

    log(`workers: ${TASKS} tasks through the worker`);
    const before = await trustCompute(relay);
    const through = await runPhase(clients, entry, account);
    const after = await trustCompute(relay);
    const delta = (kind: string) => ({
      seconds: (after[kind]?.seconds ?? 0) - (before[kind]?.seconds ?? 0),
      runs: (after[kind]?.runs ?? 0) - (before[kind]?.runs ?? 0),
    });
    const task = delta('task');
    const canary = delta('canary');
    const recheck = delta('recheck');
    const totalSeconds = task.seconds + canary.seconds + recheck.seconds;
    const totalRuns = task.runs + canary.runs + recheck.runs;
    const overhead = totalSeconds > 0 ? (canary.seconds + recheck.seconds) / totalSeconds : 0;
    const overheadRuns = totalRuns > 0 ? (canary.runs + recheck.runs) / totalRuns : 0;

    const rate = (p: Phase) => p.tasks / p.seconds;
    console.log(`\n### Desktop workers: language identification (lande-t50), ${TASKS} tasks, ${IN_FLIGHT} in flight\n`);
    console.log('| path | tasks | tasks/s | ran on the worker |');
    console.log('|---|---:|---:|---:|');
    console.log(`| relay's native pool (half the cores) | ${pool.tasks} | ${rate(pool).toFixed(1)} | — |`);
    console.log(
      `| one Node worker (--cpu 50), brokered | ${through.tasks} | ${rate(through).toFixed(1)} | ${through.onWorker} |`,
    );
    console.log(`\nworker / pool: ${((rate(through) / rate(pool)) * 100).toFixed(0)}% of the pool's tasks per second`);
    console.log(
      `\nVerification at the default rates: ${canary.runs} canaries and ${recheck.runs} re-runs beside ${task.runs} task runs; ` +
        `${(overhead * 100).toFixed(1)}% of inference time, ${(overheadRuns * 100).toFixed(1)}% of runs ` +
        `(target < 10%): ${overhead < 0.1 ? 'PASS' : 'FAIL'}`,
    );
  } finally {
    await worker.process?.stop();
    await relay.stop();
    await relay.cleanup();
    await rm(workerDir, { recursive: true, force: true });
  }
}
