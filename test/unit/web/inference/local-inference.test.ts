/**
 * Running a catalogue model on the device, in a Web Worker, in real Chromium:
 * the model files come through the model store (downloaded once with
 * progress, then from Cache Storage), onnxruntime-web runs the entry's
 * pipeline, and the result matches the same pipeline run in the page and the
 * stored references. Cancelling terminates the worker.
 *
 * The test server has no relay: models are at /dist/models/ (built by the
 * global setup) and onnxruntime's files at /node_modules/onnxruntime-web/dist/.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '#core/encoding/bytes.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import { clothingPipeline, CLOTHING_PIXELS } from '#core/pipelines/image-classification/index.ts';
import { languageIdPipeline } from '#core/pipelines/language-id/index.ts';
import type { ModelPipeline } from '#core/models/pipeline.ts';
import { runLocally, type LocalDownloadProgress } from '#web/inference/run-locally.ts';
import { MODEL_CACHE } from '#browser-storage/model-store.ts';
import clothing from '#model-fixtures/clothing.json';
import languageId from '#model-fixtures/language-id.json';
import { modelFile, modelOfKind, platformRuntimes } from '#test/models.ts';

/**
 * Each of these starts onnxruntime-web in a fresh Web Worker (and some in the
 * page too): seconds alone, a minute or more while the rest of the suite
 * keeps both cores busy with relays and browsers.
 */
const HEAVY_TEST_MS = 180_000;

const paths = {
  relayUrl: location.origin,
  modelBaseUrl: '/dist/models/',
  ortBaseUrl: '/node_modules/onnxruntime-web/dist/',
} as const;

let language: ModelEntry;
let classifier: ModelEntry;
let pageRuntime: InferenceRuntime;

beforeAll(async () => {
  language = await modelOfKind('language-id');
  classifier = await modelOfKind('image-classification');
  pageRuntime = (await platformRuntimes())[0] as InferenceRuntime;
  await caches.delete(MODEL_CACHE); // the first run downloads
});

/** The same task run by the pipeline in the page, for comparison. */
async function inPage<I, O>(entry: ModelEntry, pipeline: ModelPipeline<I, O>, input: Uint8Array): Promise<Uint8Array> {
  const session = await pageRuntime.load(await modelFile(entry.id), entry.id);
  try {
    const decoded = pipeline.decodeInput(input);
    if (!decoded.ok) throw decoded.error;
    return pipeline.encodeOutput(await pipeline.run({ main: session, sessions: {}, files: {} }, decoded.value));
  } finally {
    await session.release();
  }
}

function decoded<O>(pipeline: ModelPipeline<unknown, O>, bytes: Uint8Array): O {
  const result = pipeline.decodeOutput(bytes);
  if (!result.ok) throw result.error;
  return result.value;
}

describe('runLocally', () => {
  it(
    'identifies languages in a worker as the pipeline does in the page, downloading the model once',
    async () => {
      const pipeline = languageIdPipeline as unknown as ModelPipeline<unknown, { label: string }>;
      const sentences = languageId.sentences.slice(0, 4);
      const progress: LocalDownloadProgress[] = [];
      for (const [i, sentence] of sentences.entries()) {
        const input = languageIdPipeline.encodeInput(sentence.text);
        const run = await runLocally(language, input, { ...paths, onDownloadProgress: (p) => progress.push(p) });
        if (i === 0) console.info(`local language-id: load ${run.loadMs.toFixed(0)} ms (first, with download)`);
        expect(run.backend).toBe('wasm'); // headless Chromium has no WebGPU adapter
        expect(decoded(pipeline, run.output).label, sentence.text).toBe(sentence.label);
        const page = await inPage(language, languageIdPipeline, input);
        expect(pipeline.agree(decoded(pipeline, run.output), decoded(pipeline, page), language.tolerance)).toBe(true);
        // Same wasm, same model, one thread: the very same bytes.
        expect(run.output).toEqual(page);
        if (i > 0) {
          // The kept worker still has onnxruntime and the model loaded.
          expect(run.loadMs).toBeLessThan(50);
          console.info(
            `local language-id: load ${run.loadMs.toFixed(1)} ms, run ${run.ms.toFixed(1)} ms (kept worker)`,
          );
        }
      }
      // Downloaded on the first run only, up to the catalogue's size.
      expect(progress.length).toBeGreaterThan(0);
      expect(new Set(progress.map((p) => p.hash))).toEqual(new Set([language.id]));
      expect(progress.at(-1)).toMatchObject({ loaded: language.bytes, total: language.bytes });
    },
    HEAVY_TEST_MS,
  );

  it(
    'starts a fresh worker that takes the model from the device when none is kept',
    async () => {
      const progress: LocalDownloadProgress[] = [];
      const input = languageIdPipeline.encodeInput(languageId.sentences[0]?.text ?? '');
      const options = { ...paths, keepAliveMs: 0, onDownloadProgress: (p: LocalDownloadProgress) => progress.push(p) };
      // keepAliveMs 0: each run ends its worker, so the second starts onnxruntime afresh.
      const first = await runLocally(language, input, options);
      const second = await runLocally(language, input, options);
      expect(second.output).toEqual(first.output);
      expect(second.loadMs).toBeGreaterThan(50); // a new worker: onnxruntime started again
      expect(progress).toEqual([]); // the model came from Cache Storage
      console.info(`local language-id: load ${second.loadMs.toFixed(0)} ms in a new worker (model on the device)`);
    },
    HEAVY_TEST_MS,
  );

  it(
    'classifies clothing in a worker as the pipeline does in the page',
    async () => {
      const pipeline = clothingPipeline as unknown as ModelPipeline<unknown, { label: string }>;
      const pixels = fromBase64Url(clothing.images);
      for (const reference of clothing.reference.slice(0, 3)) {
        const data = pixels.subarray(reference.index * CLOTHING_PIXELS, (reference.index + 1) * CLOTHING_PIXELS);
        const input = clothingPipeline.encodeInput({ width: 28, height: 28, channels: 1, data });
        const run = await runLocally(classifier, input, paths);
        expect(decoded(pipeline, run.output).label).toBe(reference.label);
        const page = decoded(pipeline, await inPage(classifier, clothingPipeline, input));
        expect(pipeline.agree(decoded(pipeline, run.output), page, classifier.tolerance)).toBe(true);
      }
    },
    HEAVY_TEST_MS,
  );

  it('refuses input the model cannot take, with the pipeline’s typed error', async () => {
    await expect(runLocally(language, new Uint8Array([0x61, 0xff]), paths)).rejects.toMatchObject({
      name: 'InvalidModelInputError',
      code: 'invalid-model-input',
    });
  });

  it('cancels: the worker is terminated and the run rejects with an AbortError', async () => {
    const controller = new AbortController();
    // Settings no kept worker has: a fresh worker, starting onnxruntime, so the cancel lands mid-run.
    const running = runLocally(language, languageIdPipeline.encodeInput('Bonjour tout le monde'), {
      ...paths,
      threads: 3,
      signal: controller.signal,
    });
    setTimeout(() => {
      controller.abort();
    }, 5);
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    const aborted = AbortSignal.abort();
    await expect(runLocally(language, new Uint8Array([0x61]), { ...paths, signal: aborted })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});
