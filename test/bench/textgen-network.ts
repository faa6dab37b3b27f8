/**
 * Time to the first piece of text over the network, for the `textgen` bench
 * section: the shipped language model (kjv-byte-lm), greedy, a short prompt,
 * everything on loopback, measured from the SDK call (`client.generate`) to
 * the first piece it hands over, and to the whole answer.
 *
 * Two paths, one after the other, on one real relay process:
 * 1. Through the relay: no worker is connected yet, so the relay runs the task
 *    on its own pool and the text comes over its Server-Sent Events stream.
 * 2. Direct WebRTC: a staked Node worker (`npm run worker`) offering the model,
 *    dialled by a Node libp2p peer like the app's; the text comes as frames on
 *    the task stream. The relay runs no canaries and no re-runs, so nothing
 *    but the measured tasks is in the way.
 *
 * Warm: a few generations first on each path (the model loaded, the WebRTC
 * connection open, the JIT warm), then the samples, one at a time. Bounded:
 * each path stops sampling at its deadline, and every process started here is
 * stopped in `finally`, whatever happened.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import type { AccountId } from '#core/identity/ids.ts';
import { generateNobleSigner } from '#core/identity/signer.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { solvePow } from '#core/pow/pow.ts';
import { AIComputeClient, type GenerateParams } from '#client/sdk/index.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { startWorkerProcess, type WorkerProcess } from '#test/worker-process.ts';
import { percentile } from '#test/webrtc-page/webrtc-pair.ts';

type Log = (line: string) => void;

export const NETWORK_MODEL = 'kjv-byte-lm';
export const NETWORK_PROMPT = 'John 3:16';
export const NETWORK_MAX_PIECES = 32;
/** Untimed generations before the samples on each path. */
const WARMUP = 3;
/** Timed generations on each path (fewer if the path's deadline comes first). */
const SAMPLES = 25;
/** The most time the samples of one path may take; what is in by then is reported. */
const PATH_DEADLINE_MS = 15_000;
/** The longest one generation may take before it counts as failed. */
const GENERATION_TIMEOUT_MS = 10_000;
const STAKE = 100;

/** One path's timings, in ms from the `client.generate` call. */
export interface NetworkPathTimings {
  readonly path: string;
  /** To the first piece of text handed over. */
  readonly firstPiece: readonly number[];
  /** To the answer being in: the last piece, the iteration over the pieces ended. */
  readonly answer: readonly number[];
  /** To `result` resolving: the answer verified (settled, in a block, its proof checked). */
  readonly verified: readonly number[];
  /** Pieces generated per sample (the same every time: greedy on the same input). */
  readonly pieces: number;
  /** Why samples failed or went another way, when any did. */
  readonly failures: readonly string[];
}

export interface NetworkPathSummary {
  readonly path: string;
  readonly samples: number;
  readonly pieces: number;
  readonly firstPieceP50Ms: number | undefined;
  readonly firstPieceP95Ms: number | undefined;
  readonly answerP50Ms: number | undefined;
  readonly answerP95Ms: number | undefined;
  readonly verifiedP50Ms: number | undefined;
  readonly failures: readonly string[];
}

const p = (values: readonly number[], q: number) => (values.length === 0 ? undefined : percentile(values, q));

export function summarize(t: NetworkPathTimings): NetworkPathSummary {
  return {
    path: t.path,
    samples: t.firstPiece.length,
    pieces: t.pieces,
    firstPieceP50Ms: p(t.firstPiece, 0.5),
    firstPieceP95Ms: p(t.firstPiece, 0.95),
    answerP50Ms: p(t.answer, 0.5),
    answerP95Ms: p(t.answer, 0.95),
    verifiedP50Ms: p(t.verified, 0.5),
    failures: t.failures,
  };
}

interface Sample {
  readonly firstPieceMs: number;
  readonly answerMs: number;
  readonly verifiedMs: number;
  readonly pieces: number;
  readonly via: 'webrtc' | 'relay';
  readonly worker: string | undefined;
  readonly fallbackReason: string | undefined;
}

/** One generation, timed from the SDK call; rejects when it takes longer than GENERATION_TIMEOUT_MS. */
async function timedGeneration(client: AIComputeClient, params: GenerateParams): Promise<Sample> {
  const started = performance.now();
  const stream = client.generate(params);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const work = (async (): Promise<Sample> => {
    let firstPieceMs: number | undefined;
    for await (const piece of stream) {
      // No stop strings here, so no text is held back: the first piece carries text.
      if (firstPieceMs === undefined && piece.text !== '') firstPieceMs = performance.now() - started;
    }
    const answerMs = performance.now() - started;
    const result = await stream.result;
    const verifiedMs = performance.now() - started;
    if (firstPieceMs === undefined) throw new Error('the generation streamed no text');
    return {
      firstPieceMs,
      answerMs,
      verifiedMs,
      pieces: result.output.pieces.length,
      via: result.via,
      worker: result.task.worker,
      fallbackReason: result.fallbackReason,
    };
  })();
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // A stuck generation is stopped, so it does not run on behind the next one.
          stream.stop();
          reject(new Error(`no verified answer within ${GENERATION_TIMEOUT_MS} ms`));
        }, GENERATION_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    // The stopped run's own rejection (if any) is not a second failure.
    work.catch(() => undefined);
  }
}

/**
 * Warm-up, then up to SAMPLES timed generations (until PATH_DEADLINE_MS);
 * `accept` says whether a sample went the way this path measures.
 */
async function samplePath(
  log: Log,
  path: string,
  client: AIComputeClient,
  params: GenerateParams,
  accept: (s: Sample) => string | undefined,
): Promise<NetworkPathTimings> {
  const failures: string[] = [];
  for (let i = 0; i < WARMUP; i++) {
    const s = await timedGeneration(client, params);
    log(`textgen: ${path}: warm-up ${i + 1}, first piece ${s.firstPieceMs.toFixed(1)} ms, via ${s.via}`);
  }
  const firstPiece: number[] = [];
  const answer: number[] = [];
  const verified: number[] = [];
  let pieces = 0;
  const deadline = performance.now() + PATH_DEADLINE_MS;
  for (let i = 0; i < SAMPLES && performance.now() < deadline; i++) {
    try {
      const s = await timedGeneration(client, params);
      const wrong = accept(s);
      if (wrong !== undefined) {
        failures.push(wrong);
        continue;
      }
      firstPiece.push(s.firstPieceMs);
      answer.push(s.answerMs);
      verified.push(s.verifiedMs);
      pieces = s.pieces;
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (firstPiece.length < SAMPLES) log(`textgen: ${path}: ${firstPiece.length} of ${SAMPLES} samples in time`);
  return { path, firstPiece, answer, verified, pieces, failures };
}

/** A requester's node as the app has it: WebSockets to the relay, WebRTC to workers through it. */
async function dialer(relay: RelayProcess): Promise<Libp2p> {
  const loopback = relay.libp2pAddrs.find((a) => a.startsWith('/ip4/127.0.0.1/') && a.includes('/ws/p2p/'));
  if (loopback === undefined) throw new Error(`no loopback /ws address in ${relay.libp2pAddrs.join(', ')}`);
  const node = await createLibp2p({
    transports: [webSockets(), circuitRelayTransport(), webRTC()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() },
  });
  try {
    await node.dial(multiaddr(loopback));
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}

/** Both paths, brokered first (before any worker exists), then direct. */
export async function measureNetworkPaths(log: Log): Promise<NetworkPathTimings[]> {
  const workerDir = await mkdtemp(join(tmpdir(), 'acn-bench-textgen-worker-'));
  let relay: RelayProcess | undefined;
  let worker: WorkerProcess | undefined;
  let node: Libp2p | undefined;
  try {
    log('textgen: network: starting the relay');
    relay = await startRelayProcess([
      '--pow-difficulty',
      '4',
      '--grant',
      '5000',
      '--min-worker-stake',
      String(STAKE),
      // Settlements are in a block within 200 ms, so the verified answer is not a wait on the block timer.
      '--block-interval',
      '200',
      // No audit work beside the measured tasks.
      '--canary-rate',
      '0',
      '--recheck-rate',
      '0',
      '--rate-ip',
      '1000000000',
      '--rate-account',
      '1000000',
    ]);
    const network = relay.relayAccount as AccountId;
    const signer = generateNobleSigner();
    const client = new AIComputeClient({ relayUrl: relay.url, signer, pinnedRelay: network });
    const puzzle = await client.onboardPuzzle();
    await client.onboard(await solvePow({ network, publicKey: signer.publicKey, difficulty: puzzle.difficulty }));
    const model: ModelEntry | undefined = (await client.models()).models.find((m) => m.name === NETWORK_MODEL);
    if (model === undefined) throw new Error(`no ${NETWORK_MODEL} in the relay's catalogue`);
    const params: GenerateParams = {
      model: model.id,
      prompt: NETWORK_PROMPT,
      maxPieces: NETWORK_MAX_PIECES,
      temperature: 0,
    };

    log('textgen: network: through the relay (its own pool, Server-Sent Events)');
    const brokered = await samplePath(log, 'relay', client, params, (s) =>
      s.via !== 'relay'
        ? `went ${s.via}`
        : s.worker !== undefined && s.worker !== network
          ? `ran on ${s.worker}, not the relay's pool`
          : undefined,
    );

    log('textgen: network: starting a staked Node worker');
    worker = startWorkerProcess([
      '--relay',
      relay.url,
      '--data-dir',
      workerDir,
      '--stake',
      String(STAKE),
      '--models',
      NETWORK_MODEL,
    ]);
    const created = await worker.waitFor(/ key created /, { timeoutMs: 30_000 });
    const workerAccount = /account=(\S+)/.exec(created)?.[1];
    await worker.waitFor(/ advert accepted .*webrtc=[1-9]/, { timeoutMs: 30_000 });
    node = await dialer(relay);

    log('textgen: network: direct WebRTC to the worker');
    const direct = await samplePath(
      log,
      'webrtc',
      client,
      { ...params, node, dialTimeoutMs: 10_000, answerTimeoutMs: GENERATION_TIMEOUT_MS },
      (s) =>
        s.via !== 'webrtc'
          ? `went ${s.via}${s.fallbackReason === undefined ? '' : ` (${s.fallbackReason})`}`
          : s.worker !== workerAccount
            ? `ran on ${s.worker ?? 'nobody'}, not the worker`
            : undefined,
    );
    return [
      { ...brokered, path: 'through the relay (relay pool, SSE)' },
      { ...direct, path: 'direct WebRTC (staked Node worker)' },
    ];
  } finally {
    // A node that fails to stop must not keep the relay and the worker running.
    await Promise.resolve(node?.stop()).catch(() => undefined);
    const w = worker;
    if (w !== undefined)
      await stopWithin(
        () => w.stop(),
        () => w.child.kill('SIGKILL'),
      );
    const r = relay;
    if (r !== undefined) {
      await stopWithin(
        () => r.stop(),
        () => r.child.kill('SIGKILL'),
      );
      await r.cleanup();
    }
    await rm(workerDir, { recursive: true, force: true });
  }
}

/** SIGTERM (`stop`), and SIGKILL (`kill`) if the process has not exited within 10 s. */
async function stopWithin(stop: () => Promise<unknown>, kill: () => void): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = stop();
  await Promise.race([
    stopped,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        kill();
        resolve();
      }, 10_000);
    }),
  ]);
  clearTimeout(timer);
  await stopped;
}
