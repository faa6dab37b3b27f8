/**
 * The shipped language model on the device, in real Chromium: the local
 * inference Web Worker streams its text as it is made (several `text`
 * messages, which together are the answer), gives the same greedy answer as
 * the pipeline run in the page, and a Stop ends it early with a shorter
 * answer that starts the same way, keeping the worker and its model for the
 * next run.
 *
 * The test server has no relay: models are at /dist/models/ (built by the
 * global setup) and onnxruntime's files at /node_modules/onnxruntime-web/dist/.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { textGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import type { TextGenerationResult } from '#core/pipelines/text-generation/result.ts';
import { runLocally } from '#web/inference/run-locally.ts';
import { modelFile, modelOfKind, platformRuntimes } from '#test/models.ts';

const HEAVY_TEST_MS = 180_000;

const paths = {
  relayUrl: location.origin,
  modelBaseUrl: '/dist/models/',
  ortBaseUrl: '/node_modules/onnxruntime-web/dist/',
} as const;

let model: ModelEntry;

beforeAll(async () => {
  model = await modelOfKind('text-generation');
});

function decoded(bytes: Uint8Array): TextGenerationResult {
  const result = textGenerationPipeline.decodeOutput(bytes);
  if (!result.ok) throw result.error;
  return result.value;
}

/** The most the model can write after `prompt`: a long answer, so a stop lands mid-stream. */
function longInput(prompt: string): Uint8Array {
  const spec = model.textGeneration;
  if (!spec) throw new Error('the text-generation model has no textGeneration section');
  const maxPieces = spec.contextLength - 1 - new TextEncoder().encode(prompt).length - 1;
  return textGenerationPipeline.encodeInput(
    textGenerationInput({ messages: [{ role: 'user', content: prompt }], maxPieces }),
  );
}

describe('text generation on the device', () => {
  it(
    'streams the text from the worker as it is made, as the pipeline in the page answers',
    async () => {
      const input = textGenerationPipeline.encodeInput(
        textGenerationInput({ messages: [{ role: 'user', content: 'John 3:16' }], maxPieces: 96 }),
      );
      const texts: { index: number; text: string }[] = [];
      const run = await runLocally(model, input, {
        ...paths,
        onText: (index, text) => texts.push({ index, text }),
      });
      const result = decoded(run.output);
      // One message per generated piece, in order, and together they are the answer.
      expect(texts.map((t) => t.index)).toEqual(result.pieces.map((_, i) => i));
      expect(texts.filter((t) => t.text !== '').length).toBeGreaterThan(5);
      expect(texts.map((t) => t.text).join('')).toBe(result.text);
      expect(result.text.trim()).not.toBe('');
      expect(result.finish).not.toBe('stopped');

      // The same pipeline in the page gives the very same greedy answer.
      const runtime = (await platformRuntimes())[0];
      if (!runtime) throw new Error('no runtime');
      const session = await runtime.load(await modelFile(model.id), model.id);
      try {
        const decodedInput = textGenerationPipeline.decodeInput(input);
        if (!decodedInput.ok) throw decodedInput.error;
        const page = await textGenerationPipeline.run(
          { main: session, sessions: {}, files: {}, textGeneration: model.textGeneration },
          decodedInput.value,
        );
        expect(result).toEqual(page);
      } finally {
        await session.release();
      }
      console.info(
        `local text generation: ${result.pieces.length} pieces in ${run.ms.toFixed(0)} ms ` +
          `(${((result.pieces.length * 1000) / run.ms).toFixed(0)} pieces/s, ${run.backend})`,
      );
    },
    HEAVY_TEST_MS,
  );

  it(
    'stops mid-stream: a shorter answer that begins as the full one, and the worker is kept',
    async () => {
      const input = longInput('Genesis 1:1');
      const full = decoded((await runLocally(model, input, paths)).output);
      expect(full.pieces.length).toBeGreaterThan(20);

      const stop = new AbortController();
      let seen = 0;
      const run = await runLocally(model, input, {
        ...paths,
        stop: stop.signal,
        onText: () => {
          seen++;
          if (seen === 5) stop.abort();
        },
      });
      const stopped = decoded(run.output);
      expect(stopped.finish).toBe('stopped');
      expect(stopped.pieces.length).toBeGreaterThanOrEqual(5);
      expect(stopped.pieces.length).toBeLessThan(full.pieces.length);
      expect(full.pieces.slice(0, stopped.pieces.length)).toEqual(stopped.pieces);
      expect(full.text.startsWith(stopped.text)).toBe(true);
      // The kept worker still has onnxruntime and the model loaded.
      expect(run.loadMs).toBeLessThan(50);

      // A stop asked for before the run starts gives an empty, stopped answer.
      const early = decoded((await runLocally(model, input, { ...paths, stop: AbortSignal.abort() })).output);
      expect(early).toMatchObject({ finish: 'stopped', pieces: [], text: '' });
    },
    HEAVY_TEST_MS,
  );
});
