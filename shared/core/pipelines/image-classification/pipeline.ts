/**
 * Clothing classification (Fashion-MNIST classes): an image in, the most
 * likely of ten garment classes out with its probability and the three best
 * candidates. Pre-processing is in ./preprocess.ts; the ONNX graph maps the
 * 28x28 input to logits and the softmax is taken here, in float64.
 */
import type { Result } from '#core/result.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import type { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import type { RunOptions } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import { classification, softmax, type Candidate, type ClassificationResult } from '../classification.ts';
import { decodeClassifyImage, encodeClassifyImage, type ClassifyImage } from './image.ts';
import { CLOTHING_LABELS, type ClothingLabel } from './labels.ts';
import { CLOTHING_PIXELS, CLOTHING_SIDE, prepareClothing } from './preprocess.ts';

export { softmax };

/** How many candidates a result lists. */
export const CLOTHING_TOP = 3;
/** The graph's input (float32 [batch, 1, 28, 28], pixel/255) and output (float32 [batch, 10], logits). */
export const CLOTHING_INPUT = 'image';
export const CLOTHING_OUTPUT = 'logits';

export type ClothingCandidate = Candidate<ClothingLabel>;

/** The most likely class, its probability and the {@link CLOTHING_TOP} most likely classes, most likely first. */
export type ClothingResult = ClassificationResult<ClothingLabel>;

const results = classification('clothing', CLOTHING_LABELS, CLOTHING_TOP);

/**
 * The result for one row of ten logits: softmax, then the three most likely
 * classes (ties go to the earlier class). Throws when the logits are not ten
 * finite numbers (a broken model, not a bad input).
 */
export function classifyLogits(logits: ArrayLike<number>): ClothingResult {
  if (logits.length !== CLOTHING_LABELS.length) {
    throw new TypeError(`clothing model must give ${CLOTHING_LABELS.length} logits, got ${logits.length}`);
  }
  if (!Array.from(logits).every(Number.isFinite)) throw new TypeError('clothing model output is not finite');
  return results.result(softmax(logits));
}

export const clothingPipeline: ModelPipeline<ClassifyImage, ClothingResult> = {
  name: 'clothing',

  decodeInput(bytes: Uint8Array): Result<ClassifyImage, InvalidModelInputError> {
    return decodeClassifyImage(bytes);
  },

  encodeInput(image: ClassifyImage): Uint8Array {
    return encodeClassifyImage(image);
  },

  units(): number {
    return 1;
  },

  async run(models: PipelineModels, image: ClassifyImage, options?: RunOptions): Promise<ClothingResult> {
    const pixels = new Float32Array(CLOTHING_PIXELS);
    prepareClothing(image, pixels);
    const input = float32Tensor(pixels, [1, 1, CLOTHING_SIDE, CLOTHING_SIDE]);
    const outputs = await models.main.run({ [CLOTHING_INPUT]: input }, options);
    const output = outputs[CLOTHING_OUTPUT];
    if (output?.type !== 'float32' || output.data.length !== CLOTHING_LABELS.length) {
      throw new TypeError(`clothing model must output float32 ${CLOTHING_OUTPUT}[1, ${CLOTHING_LABELS.length}]`);
    }
    return classifyLogits(output.data as Float32Array);
  },

  encodeOutput(output: ClothingResult): Uint8Array {
    return results.encodeOutput(output);
  },

  decodeOutput(bytes: Uint8Array): Result<ClothingResult, InvalidModelInputError> {
    return results.decodeOutput(bytes);
  },

  agree(a: ClothingResult, b: ClothingResult, tolerance: Tolerance): boolean {
    return results.agree(a, b, tolerance);
  },
};
