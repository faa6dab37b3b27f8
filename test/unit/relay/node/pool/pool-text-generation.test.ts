/**
 * Text generation on the relay's pool: the text streams out of the worker
 * thread as it is made, a requester's stop ends the generation with what it
 * made so far (and its proof), and the pool's forced-pass check accepts an
 * honest answer and refuses altered ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope, signEnvelope } from '#core/envelope/envelope.ts';
import { StopRequest } from '#core/generation/stop-request.ts';
import type { Catalogue, ModelEntry } from '#core/models/catalogue.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import { textGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import {
  decodeTextResult,
  encodeTextResult,
  type TextGenerationResult,
} from '#core/pipelines/text-generation/result.ts';
import { unwrap } from '#core/result.ts';
import { readCatalogue } from '#node/models/catalogue-store.ts';
import { createInferencePool, type InferencePool } from '#node/pool/inference-pool.ts';
import { signerFor, T0 } from '#test/network.ts';

const MODELS_DIR = 'dist/models';
let catalogue: Catalogue;
let model: ModelEntry;
let pool: InferencePool;

beforeAll(async () => {
  catalogue = await readCatalogue(MODELS_DIR);
  const found = catalogue.models.find((m) => m.kind === 'text-generation');
  if (found === undefined) throw new Error('no text-generation model in dist/models: run npm run models');
  model = found;
  pool = createInferencePool({ modelsDir: MODELS_DIR, catalogue: () => Promise.resolve(catalogue) });
  await pool.start();
});

afterAll(async () => {
  await pool.stop();
});

const input = (fields: Parameters<typeof textGenerationInput>[0]) =>
  textGenerationPipeline.encodeInput(textGenerationInput(fields));

describe('text generation on the pool', () => {
  it('streams the text as it is made, and the streamed text is the result', async () => {
    const streamed: string[] = [];
    const result = await pool.run(
      model.id,
      input({ messages: [{ role: 'user', content: 'John 3:16' }], maxPieces: 40 }),
      {
        onText: (index, text) => (streamed[index] = text),
      },
    );
    const output = unwrap(decodeTextResult(result.output));
    expect(output.pieces.length).toBeGreaterThan(0);
    expect(streamed.length).toBe(output.pieces.length);
    expect(streamed.join('')).toBe(output.text);
    expect(result.units).toBe(output.pieces.length);
    expect(output.promptPieces).toBe(1 + 'John 3:16 '.length);
  });

  it('ends a stopped generation with what it made, and carries the stop', async () => {
    const proof = encodeEnvelope(
      await signEnvelope(signerFor('alice'), 'task/stop', {
        v: 1,
        net: signerFor('relay').accountId,
        task: '0'.repeat(64),
        ts: T0,
      }),
    );
    const controller = new AbortController();
    let seen = 0;
    const result = await pool.run(model.id, input({ prompt: 'Psalms 23:1 ', maxPieces: 200 }), {
      signal: controller.signal,
      onText: () => {
        seen++;
        if (seen === 5) controller.abort(new StopRequest(proof));
      },
    });
    const output = unwrap(decodeTextResult(result.output));
    expect(output.finish).toBe('stopped');
    expect(output.stopProof).toEqual(proof);
    expect(output.pieces.length).toBeGreaterThanOrEqual(5);
    expect(output.pieces.length).toBeLessThan(200);
    const verdict = await pool.check(model.id, input({ prompt: 'Psalms 23:1 ', maxPieces: 200 }), result.output);
    expect(verdict.verdict).toEqual({ ok: true });
  });

  it('accepts an honest sampled answer and refuses other pieces, a cut answer and a wrong count', async () => {
    const task = input({ prompt: 'Proverbs 3:5 ', maxPieces: 48, temperature: 0.8, topK: 40, topP: 0.95, seed: 7 });
    const honest = await pool.run(model.id, task);
    expect((await pool.check(model.id, task, honest.output)).verdict).toEqual({ ok: true });
    const answer = unwrap(decodeTextResult(honest.output));
    const lie = (changed: Partial<TextGenerationResult>) => encodeTextResult({ ...answer, ...changed });
    const other = answer.pieces.map((p, i) => (i === 3 ? (p === 101 ? 97 : 101) : p));
    const verdicts = await Promise.all([
      pool.check(
        model.id,
        task,
        lie({ pieces: other, text: new TextDecoder().decode(Uint8Array.from(other.filter((p) => p < 256))) }),
      ),
      pool.check(model.id, task, lie({ pieces: answer.pieces.slice(0, 10), finish: 'length' })),
      pool.check(model.id, task, lie({ promptPieces: answer.promptPieces + 50 })),
      pool.check(model.id, task, new Uint8Array([1, 2, 3])),
    ]);
    for (const v of verdicts) expect(v.verdict.ok).toBe(false);
  });
});
