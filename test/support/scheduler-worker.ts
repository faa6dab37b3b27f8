/**
 * A desktop worker for scheduler tests, built straight from js-libp2p packages:
 * it connects to the relay over WebSockets, sends signed adverts on
 * `/acn/advert/1.0.0` and answers `/acn/task/1.0.0` with whatever `answer`
 * returns (a real pipeline run and a signed receipt, garbage, or nothing).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { webSockets } from '@libp2p/websockets';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { createOrtNodeRuntime } from '#node/inference/ort-node-runtime.ts';
import {
  ADVERT_PROTOCOL,
  MAX_ADVERT_MESSAGE_BYTES,
  MAX_TASK_MESSAGE_BYTES,
  TASK_PROTOCOL,
  messageChannel,
  parseAdvertAnswer,
  parseTaskRequest,
  type AdvertAnswer,
  type TaskRequest,
} from '#client/p2p/task-protocol.ts';
import { sha256Hex } from '#core/encoding/bytes.ts';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import type { Result } from '#core/result.ts';
import { encodeEnvelope, readMessage, signEnvelope } from '#core/envelope/envelope.ts';
import type { AccountId, Hash, ModelId, TaskId } from '#core/identity/ids.ts';
import { createNobleSigner, type Signer } from '#core/identity/signer.ts';
import type { Ed25519Verifier } from '#core/identity/verifier.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { loadPipelineModels, releasePipelineModels } from '#core/models/load-models.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { ReceiptPayload } from '#core/messages/receipt.ts';
import { decodeTaskPayload, type TaskPayload } from '#core/messages/task.ts';
import type { WorkerAdvertPayload } from '#core/messages/worker-advert.ts';

/** What the worker answers a task with; `undefined` means never answer. */
export type TaskAnswerer = (request: TaskRequest, signer: Signer) => Promise<unknown>;

export interface SchedulerTestWorker {
  readonly node: Libp2p;
  readonly signer: Signer;
  readonly account: AccountId;
  /** Task requests received so far (answered or not). */
  readonly received: number;
  /** Signs and sends an advert (defaults filled in) and returns the relay's answer. */
  advertise(relay: PeerId, changes?: Partial<WorkerAdvertPayload>, tamper?: boolean): Promise<AdvertAnswer>;
  stop(): Promise<void>;
}

export interface SchedulerTestWorkerInit {
  readonly network: AccountId;
  readonly relayAddr: Multiaddr;
  readonly answer: TaskAnswerer;
}

export async function startSchedulerTestWorker(init: SchedulerTestWorkerInit): Promise<SchedulerTestWorker> {
  const seed = new Uint8Array(randomBytes(32));
  const signer = createNobleSigner(seed);
  const node = await createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', seed),
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionMonitor: { enabled: false },
    services: { identify: identify() },
  });
  const hung: (() => void)[] = [];
  let received = 0;
  await node.handle(TASK_PROTOCOL, async (stream) => {
    const channel = messageChannel(stream, MAX_TASK_MESSAGE_BYTES);
    try {
      const request = parseTaskRequest(await channel.read());
      if (request === undefined) throw new Error('malformed task request');
      received++;
      const answer = await init.answer(request, signer);
      if (answer === undefined) {
        // Never answer: hold the stream until the relay gives up or the worker stops.
        await new Promise<void>((resolve) => {
          hung.push(resolve);
          stream.addEventListener('close', () => {
            resolve();
          });
        });
        return;
      }
      await channel.write(answer);
      await stream.close();
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    }
  });
  await node.dial(init.relayAddr);
  let seq = 0;

  return {
    node,
    signer,
    account: signer.accountId,
    get received() {
      return received;
    },
    async advertise(relay, changes = {}, tamper = false) {
      const payload: WorkerAdvertPayload = {
        v: 1,
        net: init.network,
        models: [],
        backend: 'native',
        allocation: {
          preset: 'balanced',
          cpu: 10,
          ram: 15,
          storage: 5,
          gpu: 10,
          pauseWhenHidden: false,
          pauseOnBattery: false,
        },
        pricePerUnit: 1,
        addrs: [],
        seq: ++seq,
        ts: Date.now(),
        ...changes,
      };
      const envelope = await signEnvelope(signer, 'advert', payload);
      const sig = envelope.sig.slice();
      if (tamper) sig[0] = (sig[0] ?? 0) ^ 1;
      const stream = await node.dialProtocol(relay, ADVERT_PROTOCOL);
      const channel = messageChannel(stream, MAX_ADVERT_MESSAGE_BYTES);
      await channel.writeBytes(encodeEnvelope({ ...envelope, sig }));
      const answer = parseAdvertAnswer(await channel.read());
      await stream.close();
      if (answer === undefined) throw new Error('malformed advert answer');
      return answer;
    },
    async stop() {
      for (const resolve of hung.splice(0)) resolve();
      await node.stop();
    },
  };
}

/** Signs a receipt for `task` as `signer`. */
export async function signReceipt(
  signer: Signer,
  task: { id: TaskId; payload: TaskPayload },
  output: Uint8Array,
  changes: Partial<ReceiptPayload> = {},
): Promise<Uint8Array> {
  const payload: ReceiptPayload = {
    v: 1,
    net: task.payload.net,
    task: task.id,
    model: task.payload.model,
    output: sha256Hex(output) as Hash,
    outputBytes: output.length,
    units: 1,
    backend: 'native',
    runMs: 1,
    ts: Date.now(),
    ...changes,
  };
  return encodeEnvelope(await signEnvelope(signer, 'receipt', payload));
}

export interface PipelineAnswererOptions {
  /**
   * Answers wrongly, with a valid receipt signed over the wrong output: a
   * classification's second-best label as its best, anything else replaced
   * by bytes that are no result at all. Default false.
   */
  readonly lying?: boolean;
}

/** A worker's task handler that runs `entry` on onnxruntime-node and signs the receipt. */
export async function pipelineAnswerer(
  entry: ModelEntry,
  verifier: Ed25519Verifier,
  options: PipelineAnswererOptions = {},
): Promise<{ answer: TaskAnswerer; release: () => Promise<void> }> {
  const pipeline = pipelineFor(entry.pre);
  if (pipeline === undefined) throw new Error(`no pipeline ${entry.pre}`);
  const runtime = createOrtNodeRuntime();
  const models = await loadPipelineModels(
    runtime,
    entry,
    pipeline,
    async (hash) => new Uint8Array(await readFile(`dist/models/${hash}`)),
  );
  return {
    async answer(request, signer) {
      const task = readMessage(request.task, 'task', decodeTaskPayload, verifier);
      if (!task.ok) return { error: { code: task.error.code, message: task.error.message } };
      if (sha256Hex(request.input) !== task.value.payload.input) {
        return { error: { code: 'input-mismatch', message: 'the input does not match the task' } };
      }
      const input = pipeline.decodeInput(request.input);
      if (!input.ok) return { error: { code: input.error.code, message: input.error.message } };
      const started = performance.now();
      const honest = pipeline.encodeOutput(await pipeline.run(models, input.value));
      const output = options.lying === true ? wrongOutput(honest, pipeline.decodeOutput(honest)) : honest;
      const receipt = await signReceipt(signer, { id: task.value.id as TaskId, payload: task.value.payload }, output, {
        units: pipeline.units(input.value),
        runMs: Math.round(performance.now() - started),
      });
      return { receipt, output };
    },
    release: () => releasePipelineModels(models),
  };
}

/** A wrong answer in place of `honest`: the runner-up label leads a ranking; anything else is not a result at all. */
function wrongOutput(honest: Uint8Array, decoded: Result<unknown>): Uint8Array {
  const ranked = decoded.ok ? (decoded.value as { label?: unknown; top?: { label: string; p: number }[] }) : {};
  const [first, second, ...rest] = ranked.top ?? [];
  if (first === undefined || second === undefined) return Uint8Array.from([...honest.subarray(0, 8), 0xff]);
  const top = [{ label: second.label, p: first.p }, { label: first.label, p: second.p }, ...rest];
  return encodeCanonical({ ...(ranked as object), label: second.label, top });
}

/** A signed task for `model` on `input`, from a fresh requester. */
export async function signTestTask(network: AccountId, model: ModelId, input: Uint8Array): Promise<Uint8Array> {
  const requester = createNobleSigner(new Uint8Array(randomBytes(32)));
  const payload: TaskPayload = {
    v: 1,
    net: network,
    model,
    input: sha256Hex(input) as Hash,
    inputBytes: input.length,
    maxPrice: 100,
    nonce: new Uint8Array(randomBytes(16)),
    ts: Date.now(),
  };
  return encodeEnvelope(await signEnvelope(requester, 'task', payload));
}
