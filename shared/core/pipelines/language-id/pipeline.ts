/**
 * Language identification with lande's t50 model: UTF-8 text in, the most
 * likely of 50 languages out with its probability and the five best
 * candidates. The n-gram features are computed here; the ONNX graph maps them
 * to probabilities.
 */
import { err, ok, type Result } from '#core/result.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import type { RunOptions } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import { classification, type Candidate, type ClassificationResult } from '../classification.ts';
import { LANGUAGE_ID_FEATURES, languageIdFeatures } from './features.ts';
import { LANGUAGE_ID_LABELS, type LanguageCode } from './labels.ts';

/** The largest input text: 4 KiB of UTF-8. */
export const LANGUAGE_ID_MAX_INPUT_BYTES = 4096;
/** How many candidates a result lists. */
export const LANGUAGE_ID_TOP = 5;
/** The graph's input (float32 [batch, 620]) and output (float32 [batch, 50]). */
export const LANGUAGE_ID_INPUT = 'features';
export const LANGUAGE_ID_OUTPUT = 'probabilities';

export type LanguageCandidate = Candidate<LanguageCode>;

/** The most likely language, its probability and the {@link LANGUAGE_ID_TOP} most likely languages, most likely first. */
export type LanguageIdResult = ClassificationResult<LanguageCode>;

const results = classification('language-id', LANGUAGE_ID_LABELS, LANGUAGE_ID_TOP);

/** The five most likely languages of a probability vector; ties go to the earlier label, as in lande. */
export function rankLanguages(probabilities: Float32Array): LanguageCandidate[] {
  return results.rank(probabilities);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const languageIdPipeline: ModelPipeline<string, LanguageIdResult> = {
  name: 'language-id',

  decodeInput(bytes: Uint8Array): Result<string, InvalidModelInputError> {
    if (!(bytes instanceof Uint8Array)) return err(new InvalidModelInputError('language-id input must be bytes'));
    if (bytes.length === 0) return err(new InvalidModelInputError('language-id input is empty'));
    if (bytes.length > LANGUAGE_ID_MAX_INPUT_BYTES) {
      return err(
        new InvalidModelInputError(
          `language-id input is ${bytes.length} bytes, the cap is ${LANGUAGE_ID_MAX_INPUT_BYTES}`,
        ),
      );
    }
    try {
      return ok(utf8.decode(bytes));
    } catch {
      return err(new InvalidModelInputError('language-id input is not valid UTF-8'));
    }
  },

  encodeInput(text: string): Uint8Array {
    return new TextEncoder().encode(text);
  },

  units(): number {
    return 1;
  },

  async run(models: PipelineModels, text: string, options?: RunOptions): Promise<LanguageIdResult> {
    const features = float32Tensor(languageIdFeatures(text), [1, LANGUAGE_ID_FEATURES]);
    const outputs = await models.main.run({ [LANGUAGE_ID_INPUT]: features }, options);
    const output = outputs[LANGUAGE_ID_OUTPUT];
    if (output?.type !== 'float32' || output.data.length !== LANGUAGE_ID_LABELS.length) {
      throw new TypeError(
        `language-id model must output float32 ${LANGUAGE_ID_OUTPUT}[1, ${LANGUAGE_ID_LABELS.length}]`,
      );
    }
    const probabilities = output.data as Float32Array;
    if (!probabilities.every((p) => p >= 0 && p <= 1))
      throw new TypeError('language-id model output is not probabilities');
    return results.result(probabilities);
  },

  encodeOutput(output: LanguageIdResult): Uint8Array {
    return results.encodeOutput(output);
  },

  decodeOutput(bytes: Uint8Array): Result<LanguageIdResult, InvalidModelInputError> {
    return results.decodeOutput(bytes);
  },

  agree(a: LanguageIdResult, b: LanguageIdResult, tolerance: Tolerance): boolean {
    return results.agree(a, b, tolerance);
  },
};
