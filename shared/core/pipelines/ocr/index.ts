/** OCR (PaddleOCR PP-OCRv4): the image input, detection, recognition and the pipeline. */
export { boxesFromMap, detectionInput, detectionSize, DETECTION, readingOrder, type Box } from './detect.ts';
export {
  checkImage,
  crop,
  decodeImage,
  encodeImage,
  MAX_IMAGE_SIDE,
  rotate180,
  toRgb,
  type RasterImage,
  type Rgb,
} from './image.ts';
export { OCR_ASSETS, OCR_MAX_LINES, ocrPipeline, type OcrLine, type OcrResult } from './pipeline.ts';
export { CLASSIFIER, classifierInput, ctcDecode, parseKeys, RECOGNISER, recogniserInput } from './recognize.ts';
