/**
 * Streaming text generation from the requester's side, end to end: the real
 * relay process, the real Node worker process (offering the shipped language
 * model, listening on WebRTC through the relay) and a Node libp2p peer that
 * dials WebRTC like the app does.
 *
 * `client.generate` streams a generation brokered (the relay's text stream,
 * Server-Sent Events) and over a direct WebRTC connection to the worker (its
 * text frames); either way the streamed text is the verified result's text
 * and the price is the catalogue's for the pieces read and made. Stop in the
 * middle ends the generation with what it made, which is all that is paid.
 * `acn chat` prints the text as it comes and the cost, and Ctrl-C stops it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '#core/encoding/bytes.ts';
import { readMessage } from '#core/envelope/envelope.ts';
import type { AccountId, TaskId } from '#core/identity/ids.ts';
import { generateNobleSigner, type Signer } from '#core/identity/signer.ts';
import { nobleVerifier } from '#core/identity/verifier.ts';
import { decodeStopPayload } from '#core/messages/task.ts';
import { generationPrice, type ModelEntry, type TextGenerationSpec } from '#core/models/catalogue.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { solvePow } from '#core/pow/pow.ts';
import { AIComputeClient, type GenerateParams, type GenerationResult, type TextPiece } from '#client/sdk/index.ts';
import { startRelayProcess, type RelayProcess } from '#test/relay-process.ts';
import { startWorkerProcess, type WorkerProcess } from '#test/worker-process.ts';

const FEE_BPS = 1000;
const STAKE = 100;
const GRANT = 5000;

let relay: RelayProcess;
let network: AccountId;
let workerDir: string;
let worker: WorkerProcess;
let workerAccount: AccountId;
let requester: Signer & { readonly secretKey: Uint8Array };
let client: AIComputeClient;
let model: ModelEntry;
let spec: TextGenerationSpec;
let peer: Libp2p;
let cliDir: string;
let cliKey: string;

async function balances(): Promise<{ requester: number; worker: number; relay: number }> {
  const [r, w, n] = await Promise.all([
    client.balance(requester.accountId),
    client.balance(workerAccount),
    client.balance(network),
  ]);
  return { requester: r.balance, worker: w.balance, relay: n.balance };
}

/** Runs `client.generate`, stopping it (`stopAfter` pieces in) when asked; returns the pieces and the result. */
async function generate(
  params: Omit<GenerateParams, 'model'>,
  stopAfter?: number,
): Promise<{ pieces: TextPiece[]; result: GenerationResult }> {
  const stop = new AbortController();
  const stream = client.generate({ model: model.id, signal: stop.signal, ...params });
  const pieces: TextPiece[] = [];
  for await (const piece of stream) {
    pieces.push(piece);
    if (pieces.length === stopAfter) stop.abort();
  }
  return { pieces, result: await stream.result };
}

/** What every verified generation shows: the text streamed is the result's, the price is the pieces'. */
function expectConsistent(pieces: readonly TextPiece[], result: GenerationResult): void {
  const indices = pieces.map((p) => p.index);
  expect(indices).toEqual([...indices].sort((a, b) => a - b));
  expect(new Set(indices).size).toBe(indices.length);
  expect(pieces.map((p) => p.text).join('')).toBe(result.output.text);
  expect(result.verification.verified).toBe(true);
  expect(result.usage).toEqual({
    promptPieces: result.output.promptPieces,
    generatedPieces: result.output.pieces.length,
  });
  expect(result.price).toBe(generationPrice(spec, result.usage));
  expect(result.task).toMatchObject({ state: 'settled', price: result.price });
}

/** The most a generation of `maxPieces` after `prompt` may cost: what is escrowed by default. */
function quoteOf(prompt: string, maxPieces: number): number {
  const input = textGenerationPipeline.decodeInput(
    textGenerationPipeline.encodeInput({ prompt, maxPieces, temperature: 0, topK: 0, topP: 1, seed: 0, stop: [] }),
  );
  if (!input.ok) throw input.error;
  const usage = textGenerationPipeline.usage?.(model, input.value);
  if (!usage?.ok) throw new Error('no usage');
  return generationPrice(spec, usage.value);
}

/** The stop proof a stopped result carries is this requester's signed stop of this task. */
function expectStopProof(result: GenerationResult): void {
  expect(result.output.finish).toBe('stopped');
  const proof = result.output.stopProof;
  if (proof === undefined) throw new Error('a stopped result without its stop proof');
  const stop = readMessage(proof, 'task/stop', decodeStopPayload, nobleVerifier);
  if (!stop.ok) throw stop.error;
  expect(stop.value.signer).toBe(requester.accountId);
  expect(stop.value.payload).toMatchObject({ task: result.task.id, net: network });
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `acn ...args` against the test relay as the CLI account. */
function acn(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['relay/acn/cli.ts', ...args],
      { env: { ...process.env, ACN_RELAY: relay.url, ACN_KEY: cliKey, ACN_RELAY_ID: network }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const COST_LINE = /^cost (\d+) tokens?: (\d+) prompt pieces, (\d+) generated pieces \((.+)\)$/m;

beforeAll(async () => {
  workerDir = await mkdtemp(join(tmpdir(), 'acn-worker-'));
  relay = await startRelayProcess([
    '--pow-difficulty',
    '4',
    '--grant',
    String(GRANT),
    '--min-worker-stake',
    String(STAKE),
    '--fee-bps',
    String(FEE_BPS),
    '--block-interval',
    '200',
    // Every worker answer is checked on the relay's pool before it is paid (the forced pass); no canaries.
    '--canary-rate',
    '0',
    '--recheck-rate',
    '1',
  ]);
  network = relay.relayAccount as AccountId;
  requester = generateNobleSigner();
  client = new AIComputeClient({ relayUrl: relay.url, signer: requester, pinnedRelay: network });
  const puzzle = await client.onboardPuzzle();
  await client.onboard(await solvePow({ network, publicKey: requester.publicKey, difficulty: puzzle.difficulty }));
  const found = (await client.models()).models.find((m) => m.kind === 'text-generation');
  if (found?.textGeneration === undefined) throw new Error('no text-generation model in the catalogue');
  model = found;
  spec = found.textGeneration;

  worker = startWorkerProcess([
    '--relay',
    relay.url,
    '--data-dir',
    workerDir,
    '--stake',
    String(STAKE),
    '--models',
    model.name,
  ]);
  const created = await worker.waitFor(/ key created /);
  workerAccount = /account=(\S+)/.exec(created)?.[1] as AccountId;
  await worker.waitFor(/ advert accepted .*webrtc=[1-9]/, { timeoutMs: 60_000 });

  const loopback = relay.libp2pAddrs.find((a) => a.startsWith('/ip4/127.0.0.1/') && a.includes('/ws/p2p/'));
  if (loopback === undefined) throw new Error(`no loopback /ws address in ${relay.libp2pAddrs.join(', ')}`);
  // A requester's node as the app has it: WebSockets to the relay, WebRTC to workers through it.
  peer = await createLibp2p({
    transports: [webSockets(), circuitRelayTransport(), webRTC()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() },
  });
  await peer.dial(multiaddr(loopback));

  // The CLI's own account, onboarded, its key in a file only its owner reads.
  cliDir = await mkdtemp(join(tmpdir(), 'acn-chat-'));
  cliKey = join(cliDir, 'me.key');
  const cliSigner = generateNobleSigner();
  await writeFile(cliKey, `${bytesToHex(cliSigner.secretKey)}\n`, { mode: 0o600 });
  const cliClient = new AIComputeClient({ relayUrl: relay.url, signer: cliSigner, pinnedRelay: network });
  await cliClient.onboard(await solvePow({ network, publicKey: cliSigner.publicKey, difficulty: puzzle.difficulty }));
}, 180_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may fail before these exist
  await peer?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  await worker?.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (relay !== undefined) {
    expect(await relay.stop()).toBe(0);
    await relay.cleanup();
  }
  await rm(workerDir, { recursive: true, force: true });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  if (cliDir !== undefined) await rm(cliDir, { recursive: true, force: true });
}, 60_000);

describe('client.generate', () => {
  let brokeredText: string;

  it('streams a generation through the relay, and the streamed text is the verified result', async () => {
    const before = await balances();
    const { pieces, result } = await generate({ prompt: 'John 3:16', maxPieces: 48 });
    expect(result.via).toBe('relay');
    expect(pieces.length).toBeGreaterThan(0);
    expectConsistent(pieces, result);
    expect(result.output.finish).not.toBe('stopped');
    expect(result.task.maxPrice).toBe(quoteOf('John 3:16', 48));
    brokeredText = result.output.text;
    // The requester paid the price and got the rest of the escrow back.
    expect((await balances()).requester).toBe(before.requester - result.price);
  }, 60_000);

  it('streams a generation over a direct WebRTC connection from the worker', async () => {
    const before = await balances();
    const { pieces, result } = await generate({
      prompt: 'John 3:16',
      maxPieces: 48,
      node: peer,
      dialTimeoutMs: 10_000,
    });
    expect({ via: result.via, worker: result.task.worker, fallback: result.fallbackReason }).toEqual({
      via: 'webrtc',
      worker: workerAccount,
      fallback: undefined,
    });
    expectConsistent(pieces, result);
    // Greedy on the same input: the worker made the same answer as the relay did.
    expect(result.output.text).toBe(brokeredText);
    const after = await balances();
    const fee = Math.floor((result.price * FEE_BPS) / 10_000);
    expect(after).toEqual({
      requester: before.requester - result.price,
      worker: before.worker + result.price - fee,
      relay: before.relay + fee,
    });
  }, 60_000);

  it('Stop mid-stream ends a brokered generation with what was made, and pays only for that', async () => {
    const maxPieces = 240;
    const before = await balances();
    const { pieces, result } = await generate({ prompt: 'G', maxPieces }, 1);
    expect(result.via).toBe('relay');
    expectStopProof(result);
    expectConsistent(pieces, result);
    expect(result.output.pieces.length).toBeLessThan(maxPieces);
    const quote = quoteOf('G', maxPieces);
    expect(result.task.maxPrice).toBe(quote);
    expect(result.price).toBeLessThan(quote);
    expect((await balances()).requester).toBe(before.requester - result.price);
  }, 60_000);

  it('Stop mid-stream on the direct path goes to the worker on its stream, and pays only for what was made', async () => {
    const maxPieces = 240;
    const before = await balances();
    const { pieces, result } = await generate({ prompt: 'G', maxPieces, node: peer, dialTimeoutMs: 10_000 }, 1);
    expect(result.via).toBe('webrtc');
    expectStopProof(result);
    expectConsistent(pieces, result);
    expect(result.output.pieces.length).toBeLessThan(maxPieces);
    expect(result.price).toBeLessThan(quoteOf('G', maxPieces));
    const after = await balances();
    const fee = Math.floor((result.price * FEE_BPS) / 10_000);
    expect(after).toEqual({
      requester: before.requester - result.price,
      worker: before.worker + result.price - fee,
      relay: before.relay + fee,
    });
  }, 60_000);

  it('leaving the loop early is a Stop too', async () => {
    const stream = client.generate({ model: model.id, prompt: 'G', maxPieces: 240 });
    for await (const piece of stream) {
      expect(piece.index).toBe(0);
      break;
    }
    const result = await stream.result;
    expectStopProof(result);
    expect(result.output.pieces.length).toBeLessThan(240);
    expect(result.verification.verified).toBe(true);
  }, 60_000);

  it('a stop before the worker has the task goes to the relay, which cancels it and refunds all', async () => {
    const before = await balances();
    const input = textGenerationPipeline.encodeInput({
      prompt: 'G',
      maxPieces: 240,
      temperature: 0,
      topK: 0,
      topP: 1,
      seed: 0,
      stop: [],
    });
    const signed = await client.signTask({ model: model.id, input, maxPrice: quoteOf('G', 240) });
    const { direct } = await client.submitDirectTask(signed.envelope, signed.input);
    if (direct === undefined) throw new Error('no direct offer');
    const stop = new AbortController();
    stop.abort();
    let texts = 0;
    await expect(
      client.completeDirectTask(signed, direct, {
        node: peer,
        stop: stop.signal,
        onText: () => {
          texts++;
        },
      }),
    ).rejects.toMatchObject({ name: 'TaskFailedError' });
    expect(texts).toBe(0);
    const view = await client.getTask(signed.taskId);
    expect(view.settleTx).toBeUndefined();
    expect(view.refundTx).toBeDefined();
    expect(await balances()).toEqual(before);
  }, 60_000);

  it('a stop for a finished task is refused, and changes nothing', async () => {
    const { result } = await generate({ prompt: 'Psalms 23:1', maxPieces: 8 });
    const before = await balances();
    await expect(client.stopTask(result.task.id)).rejects.toMatchObject({ status: 409, code: 'not-stoppable' });
    expect(await client.getTask(result.task.id)).toMatchObject({ state: 'settled', price: result.price });
    expect(await balances()).toEqual(before);
  }, 60_000);

  it('refuses an input the model cannot take before anything is signed or sent', async () => {
    const before = await balances();
    const stream = client.generate({ model: model.id, prompt: '   ' });
    await expect(stream.result).rejects.toMatchObject({ code: 'invalid-model-input' });
    await expect(
      (async () => {
        for await (const piece of stream) expect(piece).toBeUndefined();
      })(),
    ).rejects.toMatchObject({ code: 'invalid-model-input' });
    expect(await balances()).toEqual(before);
  });
});

describe('acn chat', () => {
  it('prints the text as it is made, then the verification and the cost', async () => {
    const run = await acn(['chat', '--model', model.name, '--max-pieces', '32', 'Genesis 1:1']);
    expect(run.stderr).toMatch(/^verified: (\d+) of \1 checks passed \(task [0-9a-f]{64}\)$/m);
    expect(run.code).toBe(0);
    const id = /\(task ([0-9a-f]{64})\)/.exec(run.stderr)?.[1] as TaskId;
    const settled = await client.getTaskResult(id);
    if (!settled) throw new Error('no result');
    const output = textGenerationPipeline.decodeOutput(settled.output);
    if (!output.ok) throw output.error;
    // Not a TTY: stdout is exactly the text, as a pipe wants it.
    expect(run.stdout).toBe(output.value.text);
    const [, price, prompt, generated] = COST_LINE.exec(run.stderr) ?? [];
    expect(Number(prompt)).toBe(output.value.promptPieces);
    expect(Number(generated)).toBe(output.value.pieces.length);
    expect(Number(price)).toBe(settled.task.price);
    expect(settled.task.price).toBe(
      generationPrice(spec, { promptPieces: Number(prompt), generatedPieces: Number(generated) }),
    );
  }, 60_000);

  it('Ctrl-C stops the generation: what was made is kept, verified and paid for', async () => {
    const child = spawn(
      process.execPath,
      ['relay/acn/cli.ts', 'chat', '--model', model.name, '--max-pieces', '240', 'G'],
      { env: { ...process.env, ACN_RELAY: relay.url, ACN_KEY: cliKey, ACN_RELAY_ID: network } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      // The first text is on the screen: the user presses Ctrl-C.
      if (stdout === '') child.kill('SIGINT');
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).toMatch(COST_LINE);
    expect(code).toBe(0);
    const [, price, , generated, ending] = COST_LINE.exec(stderr) ?? [];
    expect(ending).toMatch(/^you stopped it; \d+ of \d+ escrowed refunded$/);
    expect(Number(generated)).toBeLessThan(240);
    expect(Number(price)).toBeLessThan(quoteOf('G', 240));
    const id = /\(task ([0-9a-f]{64})\)/.exec(stderr)?.[1] as TaskId;
    const settled = await client.getTaskResult(id);
    if (!settled) throw new Error('no result');
    const output = textGenerationPipeline.decodeOutput(settled.output);
    if (!output.ok) throw output.error;
    expect(output.value.finish).toBe('stopped');
    expect(stdout).toBe(output.value.text);
  }, 60_000);
});
