/**
 * Text generation as a pipeline, so it runs wherever every other model runs
 * (the phone's Web Worker, a desktop worker, the relay's pool) with the same
 * receipts and checks. The generation loop is the core's
 * (#core/generation/generate.ts); this file adds the tokenizer and template,
 * the streaming of text to `onText`, the stop by the requester, pricing by
 * pieces read and written, and the forced-pass check of a claimed answer.
 */
import { checkGeneration } from '#core/generation/check-generation.ts';
import { generate, type LanguageModel } from '#core/generation/generate.ts';
import { stopProofOf } from '#core/generation/stop-request.ts';
import { createTextStream } from '#core/generation/text-stream.ts';
import type { ModelEntry, TextGenerationSpec } from '#core/models/catalogue.ts';
import { InvalidModelError, InvalidModelInputError } from '#core/models/errors.ts';
import type { ClaimVerdict, ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import { err, ok } from '#core/result.ts';
import { pieceBytes, promptLength, promptPieces } from './byte-tokenizer.ts';
import { decodeTextInput, encodeTextInput, samplingOf, type TextGenerationInput } from './prompt.ts';
import { decodeTextResult, encodeTextResult, type TextGenerationResult } from './result.ts';

function specOf(models: PipelineModels): TextGenerationSpec {
  const spec = models.textGeneration;
  if (spec === undefined) throw new InvalidModelError('a text-generation model needs its textGeneration section');
  return spec;
}

/** The model as the generation loop sees it. */
export function languageModel(models: PipelineModels): LanguageModel {
  const spec = specOf(models);
  return {
    session: models.main,
    cache: spec.cache,
    contextLength: spec.contextLength,
    eosTokens: spec.eos,
    tokenBytes: pieceBytes,
  };
}

/** The request the loop runs for `input`. */
function requestOf(spec: TextGenerationSpec, input: TextGenerationInput) {
  return {
    prompt: promptPieces(spec, input),
    maxTokens: input.maxPieces,
    sampling: samplingOf(input),
    seed: input.seed,
    stop: input.stop,
  };
}

/**
 * The text a claimed list of pieces makes, as the loop streams it, and where
 * a stop string ended it (-1 for none).
 */
function replayText(
  spec: TextGenerationSpec,
  input: TextGenerationInput,
  claim: TextGenerationResult,
): { text: string; stoppedAt: number } {
  const stream = createTextStream(input.stop);
  let text = '';
  for (const [i, piece] of claim.pieces.entries()) {
    if (spec.eos.includes(piece)) return { text: text + stream.flush(), stoppedAt: -1 };
    text += stream.push(pieceBytes(piece));
    if (stream.stopped) return { text, stoppedAt: i };
  }
  return { text: claim.finish === 'length' ? text + stream.flush() : text, stoppedAt: -1 };
}

/** Everything about a claim but its pieces' likelihood: its counts, its ending and its text. */
function checkShape(spec: TextGenerationSpec, input: TextGenerationInput, claim: TextGenerationResult): ClaimVerdict {
  if (claim.promptPieces !== promptLength(input)) return { ok: false, reason: 'wrong-count' };
  const last = claim.pieces.length - 1;
  const { text, stoppedAt } = replayText(spec, input, claim);
  if (stoppedAt !== -1 && stoppedAt !== last) return { ok: false, reason: 'too-long' };
  const endsInEos = last >= 0 && spec.eos.includes(claim.pieces[last] as number);
  if (claim.finish === 'stop' && !endsInEos && stoppedAt !== last) return { ok: false, reason: 'bad-finish' };
  if (claim.finish !== 'stop' && stoppedAt !== -1) return { ok: false, reason: 'bad-finish' };
  if (text !== claim.text) return { ok: false, reason: 'wrong-text' };
  return { ok: true };
}

export const textGenerationPipeline: ModelPipeline<TextGenerationInput, TextGenerationResult> = {
  name: 'text-generation',
  decodeInput: decodeTextInput,
  encodeInput: encodeTextInput,

  units(input, output) {
    return output === undefined ? input.maxPieces : output.pieces.length;
  },

  usage(entry: ModelEntry, input, output) {
    const spec = entry.textGeneration;
    if (spec === undefined) return err(new InvalidModelInputError(`${entry.name} is not a language model`));
    const prompt = promptLength(input);
    if (prompt >= spec.contextLength) {
      return err(
        new InvalidModelInputError(
          `the prompt is ${prompt} pieces; ${entry.name} reads at most ${spec.contextLength - 1} before answering`,
        ),
      );
    }
    const most = Math.min(input.maxPieces, spec.contextLength - prompt);
    return ok({ promptPieces: prompt, generatedPieces: output === undefined ? most : output.pieces.length });
  },

  async run(models, input, options = {}) {
    const spec = specOf(models);
    const { signal } = options;
    const request = requestOf(spec, input);
    const steps = generate(languageModel(models), { ...request, ...(signal ? { signal } : {}) });
    const pieces: number[] = [];
    let text = '';
    try {
      for (;;) {
        const step = await steps.next();
        if (step.done === true) {
          const { tokens, finishReason } = step.value;
          return {
            text: step.value.text,
            pieces: [...tokens],
            promptPieces: request.prompt.length,
            finish: finishReason,
          };
        }
        pieces.push(step.value.token);
        text += step.value.text;
        options.onText?.(step.value.index, step.value.text);
      }
    } catch (error) {
      const stopProof = stopProofOf(signal);
      if (stopProof === undefined) throw error;
      return { text, pieces, promptPieces: request.prompt.length, finish: 'stopped', stopProof };
    }
  },

  encodeOutput: encodeTextResult,
  decodeOutput: decodeTextResult,

  /** Two runs agree when they generated the same pieces and ended the same way. */
  agree(a, b) {
    return (
      a.finish === b.finish &&
      a.text === b.text &&
      a.pieces.length === b.pieces.length &&
      a.pieces.every((p, i) => p === b.pieces[i])
    );
  },

  async check(models, input, claimed, options = {}) {
    const spec = specOf(models);
    const shape = checkShape(spec, input, claimed);
    if (!shape.ok) return shape;
    const request = { ...requestOf(spec, input), ...(options.signal ? { signal: options.signal } : {}) };
    const verdict = await checkGeneration(languageModel(models), request, {
      tokens: claimed.pieces,
      finishReason: claimed.finish,
    });
    return verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason };
  },
};
