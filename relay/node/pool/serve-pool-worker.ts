/**
 * The inside of one inference worker thread: it runs one task at a time
 * through the shared pipeline registry on onnxruntime-node, keeps the
 * sessions of the models it ran (least recently used evicted above its memory
 * budget) and answers each task with canonical output bytes and their hash,
 * or a serialised error. pool-worker.ts starts it on the thread's parent port.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transferable } from 'node:worker_threads';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { Hash, ModelId } from '#core/identity/ids.ts';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { ClaimVerdict, PipelineModels } from '#core/models/pipeline.ts';
import { checkModelBytes, type InferenceRuntime, type ModelSession } from '#core/models/runtime.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import { createOrtNodeRuntime } from '../inference/ort-node-runtime.ts';
import { serialiseError } from './error-transfer.ts';
import { UnknownModelError } from './errors.ts';
import type { CachedModelData, FromWorker, PoolTaskModel, PoolWorkerSetup, ToWorker } from './pool-messages.ts';

/** The worker's end of its channel to the pool: the thread's `parentPort`, or a wrapper of it in tests. */
export interface PoolWorkerPort {
  on(event: 'message', listener: (message: ToWorker) => void): unknown;
  postMessage(message: FromWorker, transfer?: readonly Transferable[]): void;
}

interface CachedModel {
  readonly models: PipelineModels;
  /** Estimated memory: the files' bytes times the memory factor. */
  readonly bytes: number;
}

/**
 * Serves tasks on `port` until the thread ends: announces `ready`, then runs
 * each `run` message (one at a time, in order), honours `abort` for the task
 * in flight and `memory` to change the cache budget.
 */
export function servePoolWorker(port: PoolWorkerPort, setup: PoolWorkerSetup): void {
  const runtime: InferenceRuntime = createOrtNodeRuntime({ threads: setup.threads });
  const cache = new Map<ModelId, CachedModel>();
  const controllers = new Map<number, AbortController>();
  let memoryBytes = setup.memoryBytes;
  let chain = Promise.resolve();

  const cacheData = (): CachedModelData[] => [...cache].map(([id, entry]) => ({ id, bytes: entry.bytes }));
  const cachedBytes = (): number => [...cache.values()].reduce((sum, entry) => sum + entry.bytes, 0);

  /** Releases least recently used models until `room` more bytes fit the budget (or nothing is left). */
  async function evict(room: number): Promise<void> {
    for (const [id, entry] of cache) {
      if (cachedBytes() + room <= memoryBytes) return;
      cache.delete(id);
      await releaseAll(entry.models);
    }
  }

  /** Loads (or reuses) a model; its pipeline's `sessionAssets` say which assets are ONNX sessions, the rest are raw files. */
  async function load(
    model: PoolTaskModel,
    sessionAssets: readonly string[],
    signal: AbortSignal,
  ): Promise<PipelineModels> {
    const cached = cache.get(model.id);
    if (cached) {
      cache.delete(model.id);
      cache.set(model.id, cached);
      return cached.models;
    }
    const read = (id: Hash): Promise<Uint8Array> => readFile(join(setup.modelsDir, id), { signal });
    const mainBytes = await read(model.id);
    const assetBytes = await Promise.all(model.assets.map((asset) => read(asset.id)));
    const bytes = (mainBytes.length + assetBytes.reduce((sum, b) => sum + b.length, 0)) * setup.memoryFactor;
    await evict(bytes);

    const sessions: Record<string, ModelSession> = {};
    const files: Record<string, Uint8Array> = {};
    const loaded: ModelSession[] = [];
    try {
      const main = await runtime.load(mainBytes, model.id, { signal });
      loaded.push(main);
      for (const [index, asset] of model.assets.entries()) {
        const data = assetBytes[index] as Uint8Array;
        if (sessionAssets.includes(asset.role)) {
          const session = await runtime.load(data, asset.id, { signal });
          loaded.push(session);
          sessions[asset.role] = session;
        } else {
          const checked = checkModelBytes(data, asset.id);
          if (!checked.ok) throw checked.error;
          files[asset.role] = data;
        }
      }
      const models: PipelineModels = { main, sessions, files, textGeneration: model.textGeneration };
      cache.set(model.id, { models, bytes });
      return models;
    } catch (error) {
      await Promise.allSettled(loaded.map((session) => session.release()));
      throw error;
    }
  }

  async function run(id: number, model: PoolTaskModel, bytes: Uint8Array, claim?: Uint8Array): Promise<void> {
    const controller = new AbortController();
    controllers.set(id, controller);
    const started = performance.now();
    try {
      const pipeline = pipelineFor(model.pipeline);
      if (!pipeline) throw new UnknownModelError(`no pipeline named ${model.pipeline}`);
      const input = pipeline.decodeInput(bytes);
      if (!input.ok) throw input.error;
      const models = await load(model, pipeline.sessionAssets ?? [], controller.signal);
      let encoded: Uint8Array;
      let units: number;
      if (claim === undefined) {
        const result = await pipeline.run(models, input.value, {
          signal: controller.signal,
          onText: (index, text) => {
            port.postMessage({ type: 'text', id, index, text });
          },
        });
        encoded = pipeline.encodeOutput(result);
        units = pipeline.units(input.value, result);
      } else {
        // A claimed output that does not even decode is wrong; a model without a checker has nothing to say.
        const claimed = pipeline.decodeOutput(claim);
        if (pipeline.check === undefined) throw new UnknownModelError(`${model.pipeline} has no checker`);
        const verdict: ClaimVerdict = claimed.ok
          ? await pipeline.check(models, input.value, claimed.value, { signal: controller.signal })
          : { ok: false, reason: 'undecodable' };
        encoded = encodeCanonical(verdict);
        units = 0;
      }
      // Send a buffer of exactly these bytes, so the transfer moves nothing else.
      const output =
        encoded.byteOffset === 0 && encoded.byteLength === encoded.buffer.byteLength ? encoded : encoded.slice();
      const runMs = performance.now() - started;
      await evict(0);
      port.postMessage(
        {
          type: 'done',
          id,
          output,
          outputHash: sha256Hex(output) as Hash,
          units,
          runMs,
          threads: setup.threads,
          cache: cacheData(),
        },
        [output.buffer as ArrayBuffer],
      );
    } catch (error) {
      port.postMessage({ type: 'failed', id, error: serialiseError(error), cache: cacheData() });
    } finally {
      controllers.delete(id);
    }
  }

  port.on('message', (message) => {
    switch (message.type) {
      case 'run':
        chain = chain.then(() => run(message.id, message.model, message.input, message.claim));
        break;
      case 'abort':
        controllers.get(message.id)?.abort(message.stop === undefined ? undefined : new StopRequest(message.stop));
        break;
      case 'memory':
        memoryBytes = message.memoryBytes;
        chain = chain.then(async () => {
          await evict(0);
          port.postMessage({ type: 'cache', cache: cacheData() });
        });
        break;
    }
  });
  port.postMessage({ type: 'ready' });
}

async function releaseAll(models: PipelineModels): Promise<void> {
  await Promise.allSettled([models.main, ...Object.values(models.sessions)].map((session) => session.release()));
}
