/** Image classification: the clothing classifier (Fashion-MNIST classes), its image format, pre-processing and pipeline. */
export {
  checkClassifyImage,
  decodeClassifyImage,
  encodeClassifyImage,
  MAX_CLASSIFY_IMAGE_SIDE,
  toGrey,
  type ClassifyImage,
  type GreyImage,
} from './image.ts';
export { CLOTHING_LABELS, type ClothingLabel } from './labels.ts';
export {
  classifyLogits,
  CLOTHING_INPUT,
  CLOTHING_OUTPUT,
  CLOTHING_TOP,
  clothingPipeline,
  softmax,
  type ClothingCandidate,
  type ClothingResult,
} from './pipeline.ts';
export {
  BLACK_LEVEL,
  CLOTHING_PIXELS,
  CLOTHING_SIDE,
  cornerMedian,
  prepareClothing,
  TRIM_MIN_GAIN,
  TRIM_THRESHOLD,
  type ClothingPreparation,
} from './preprocess.ts';
