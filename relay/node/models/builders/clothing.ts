/**
 * The clothing classifier: the project's own 784-128-10 MLP trained on
 * Fashion-MNIST (Debian `dataset-fashion-mnist`, MIT) by
 * relay/model-tools/train-clothing.ts, whose two artifacts (the ONNX file and its
 * measured test accuracy) are committed under relay/node/models/artifacts. This
 * builder reads them, checks that the graph has the input and output the
 * pipeline in shared/core/pipelines/image-classification expects, and returns
 * the catalogue entry. Retrain with `node relay/model-tools/train-clothing.ts`.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import * as v from 'valibot';
import { CLOTHING_LABELS } from '#core/pipelines/image-classification/labels.ts';
import { CLOTHING_INPUT, CLOTHING_OUTPUT, clothingPipeline } from '#core/pipelines/image-classification/pipeline.ts';
import type { BuiltModel, ModelBuilder } from './builder.ts';

const { onnx } = onnxProto;

/** The artifacts train-clothing.ts writes (relative to this file, so the build runs from any directory). */
const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const ONNX_FILE = new URL('clothing-mlp.onnx', ARTIFACTS);
const REPORT_FILE = new URL('clothing-mlp.json', ARTIFACTS);

/** The least test accuracy the catalogue accepts for this model. */
const MIN_TEST_ACCURACY = 0.85;

const reportSchema = v.object({
  testAccuracy: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  trainSeconds: v.number(),
  epochs: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  seed: v.pipe(v.number(), v.safeInteger()),
  dataset: v.string(),
});

/** Checks the graph's interface: `image` float32 [batch,1,28,28] in, `logits` float32 [batch,10] out. */
function checkGraph(bytes: Uint8Array): void {
  const model = onnx.ModelProto.decode(bytes);
  const dims = (info: onnxProto.onnx.IValueInfoProto | undefined): string =>
    (info?.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam ?? String(d.dimValue)).join(',');
  const input = model.graph?.input?.find((i) => i.name === CLOTHING_INPUT);
  const output = model.graph?.output?.find((o) => o.name === CLOTHING_OUTPUT);
  const float = onnx.TensorProto.DataType.FLOAT;
  if (input?.type?.tensorType?.elemType !== float || dims(input) !== 'batch,1,28,28') {
    throw new Error(`clothing-mlp.onnx: input ${CLOTHING_INPUT} must be float32 [batch,1,28,28]`);
  }
  if (output?.type?.tensorType?.elemType !== float || dims(output) !== `batch,${CLOTHING_LABELS.length}`) {
    throw new Error(`clothing-mlp.onnx: output ${CLOTHING_OUTPUT} must be float32 [batch,${CLOTHING_LABELS.length}]`);
  }
}

export const clothingBuilder: ModelBuilder = {
  name: 'clothing',
  async build(log) {
    const main = new Uint8Array(await readFile(ONNX_FILE));
    checkGraph(main);
    const parsed = v.safeParse(reportSchema, JSON.parse(await readFile(REPORT_FILE, 'utf8')));
    if (!parsed.success) throw new Error(`clothing-mlp.json: ${parsed.issues.map((i) => i.message).join('; ')}`);
    const report = parsed.output;
    if (report.testAccuracy < MIN_TEST_ACCURACY) {
      throw new Error(`clothing-mlp: test accuracy ${report.testAccuracy} is below ${MIN_TEST_ACCURACY}`);
    }
    log(`clothing-mlp.onnx ${main.length} bytes, test accuracy ${(100 * report.testAccuracy).toFixed(2)}%`);
    const built: BuiltModel = {
      entry: {
        name: 'clothing-mlp',
        version: '1.0.0',
        kind: 'image-classification',
        description: `Names the garment in a photo: one of ${CLOTHING_LABELS.join(', ')}. A 784-128-10 MLP trained on Fashion-MNIST by this project; 28x28 grey input.`,
        inputs: [{ name: CLOTHING_INPUT, type: 'float32', shape: ['batch', 1, 28, 28] }],
        outputs: [{ name: CLOTHING_OUTPUT, type: 'float32', shape: ['batch', CLOTHING_LABELS.length] }],
        pre: clothingPipeline.name,
        post: clothingPipeline.name,
        price: { perUnit: 1, unit: 'image' },
        sizeClass: 'phone',
        tolerance: { measure: 'top1' },
        license: {
          spdx: 'MIT',
          source: 'Debian dataset-fashion-mnist (Zalando Research), trained by relay/model-tools/train-clothing.ts',
        },
        metrics: { testAccuracy: report.testAccuracy },
      },
      main,
    };
    return [built];
  },
};
