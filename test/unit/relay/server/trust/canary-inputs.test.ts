/**
 * Canary inputs for text generation: verse references the shipped model
 * continues, each a valid input the relay can quote (its prompt fits the
 * context), asking a modest number of pieces, and varied like real chats:
 * prompts and messages, greedy and sampled, fresh seeds.
 */
import { describe, expect, it } from 'vitest';
import { createSplitMix64 } from '#core/generation/prng.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import type { TextGenerationInput } from '#core/pipelines/text-generation/prompt.ts';
import { templateText } from '#core/pipelines/text-generation/byte-tokenizer.ts';
import { canaryInputGenerator, isClearAnswer } from '#server/trust/canary-inputs.ts';

describe('text-generation canary inputs', () => {
  const generate = canaryInputGenerator('text-generation');
  const prng = createSplitMix64(5);
  const inputs: TextGenerationInput[] = Array.from({ length: 200 }, () => {
    if (generate === undefined) throw new Error('no text-generation canary generator');
    const decoded = textGenerationPipeline.decodeInput(generate(() => prng.nextFloat()));
    if (!decoded.ok) throw decoded.error;
    return decoded.value;
  });

  it('makes valid verse references asking 24 to 48 pieces', () => {
    for (const input of inputs) {
      expect(templateText(input)).toMatch(/^[1-3]?[A-Z][a-z]+ \d{1,2}:\d{1,2} ?$/);
      expect(input.maxPieces).toBeGreaterThanOrEqual(24);
      expect(input.maxPieces).toBeLessThanOrEqual(48);
      expect(input.stop).toEqual([]);
    }
  });

  it('varies the shape, the sampling and the seed', () => {
    const share = (test: (i: TextGenerationInput) => boolean) => inputs.filter(test).length / inputs.length;
    expect(share((i) => i.prompt !== undefined)).toBeGreaterThan(0.3);
    expect(share((i) => i.messages !== undefined)).toBeGreaterThan(0.3);
    expect(share((i) => i.temperature === 0)).toBeGreaterThan(0.2);
    expect(share((i) => i.temperature > 0)).toBeGreaterThan(0.4);
    expect(new Set(inputs.map((i) => i.seed)).size).toBe(inputs.length);
    expect(new Set(inputs.map((i) => templateText(i))).size).toBeGreaterThan(150);
  });

  it('takes any decodable result as a clear answer (the forced pass judges it, not a margin)', () => {
    const output = textGenerationPipeline.encodeOutput({ text: 'I', pieces: [73], promptPieces: 11, finish: 'length' });
    expect(isClearAnswer('text-generation', output)).toBe(true);
    expect(isClearAnswer('text-generation', new Uint8Array([1, 2]))).toBe(false);
  });
});
