/**
 * The shipped language model: kjv-byte-lm, a byte-level Llama-style decoder
 * trained on Debian's public-domain King James Bible by
 * `npm run train-text-model` (relay/model-tools/text-model/), whose two
 * artifacts (the ONNX file with its key/value cache, and the training report)
 * are committed under relay/node/models/artifacts. This builder reads them,
 * checks the graph has the onnx-community input and output names the
 * generation loop feeds, and returns the catalogue entry with the model's
 * shape from the report.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import * as v from 'valibot';
import type { ModelEntry } from '#core/models/catalogue.ts';
import { textGenerationPipeline } from '#core/pipelines/text-generation/pipeline.ts';
import type { BuiltModel, ModelBuilder } from './builder.ts';

const { onnx } = onnxProto;

const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const ONNX_FILE = new URL('kjv-byte-lm.onnx', ARTIFACTS);
const REPORT_FILE = new URL('kjv-byte-lm.json', ARTIFACTS);

/** The most validation bits per byte the catalogue accepts (uniform guessing over bytes is 8). */
const MAX_BITS_PER_BYTE = 2.5;

const int = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const reportSchema = v.object({
  config: v.object({ vocab: int, bos: int, eos: int, layers: int, kvHeads: int, headDim: int, context: int }),
  parameters: int,
  seed: int,
  steps: int,
  trainSeconds: v.number(),
  validationBitsPerByte: v.number(),
});

type TensorSpec = ModelEntry['inputs'][number];

/** The graph's inputs or outputs as catalogue tensor specs. */
function specs(values: readonly onnxProto.onnx.IValueInfoProto[]): TensorSpec[] {
  const types: Record<number, TensorSpec['type']> = {
    [onnx.TensorProto.DataType.FLOAT]: 'float32',
    [onnx.TensorProto.DataType.INT64]: 'int64',
    [onnx.TensorProto.DataType.INT32]: 'int32',
  };
  return values.map((info) => {
    const type = types[info.type?.tensorType?.elemType ?? -1];
    if (type === undefined) throw new Error(`kjv-byte-lm.onnx: ${info.name} has an unexpected element type`);
    const shape = (info.type?.tensorType?.shape?.dim ?? []).map((d) =>
      d.dimParam ? d.dimParam.slice(0, 32) : Number(d.dimValue),
    );
    return { name: String(info.name), type, shape };
  });
}

function checkNames(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], layers: number): void {
  const want = (names: readonly TensorSpec[], name: string): void => {
    if (!names.some((t) => t.name === name)) throw new Error(`kjv-byte-lm.onnx has no ${name}`);
  };
  for (const name of ['input_ids', 'attention_mask', 'position_ids']) want(inputs, name);
  want(outputs, 'logits');
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value']) {
      want(inputs, `past_key_values.${layer}.${kind}`);
      want(outputs, `present.${layer}.${kind}`);
    }
  }
}

export const textGenerationBuilder: ModelBuilder = {
  name: 'text-generation',
  async build(log) {
    const main = new Uint8Array(await readFile(ONNX_FILE));
    const parsed = v.safeParse(reportSchema, JSON.parse(await readFile(REPORT_FILE, 'utf8')));
    if (!parsed.success) throw new Error(`kjv-byte-lm.json: ${parsed.issues.map((i) => i.message).join('; ')}`);
    const report = parsed.output;
    if (report.validationBitsPerByte > MAX_BITS_PER_BYTE) {
      throw new Error(`kjv-byte-lm: ${report.validationBitsPerByte} bits per byte is above ${MAX_BITS_PER_BYTE}`);
    }
    const graph = onnx.ModelProto.decode(main).graph;
    const inputs = specs(graph?.input ?? []);
    const outputs = specs(graph?.output ?? []);
    checkNames(inputs, outputs, report.config.layers);
    log(`kjv-byte-lm.onnx ${main.length} bytes, ${report.validationBitsPerByte} bits per byte`);
    const { config } = report;
    const built: BuiltModel = {
      entry: {
        name: 'kjv-byte-lm',
        version: '1.0.0',
        kind: 'text-generation',
        description:
          'A tiny language model that continues King James Bible verses: give it a reference such as "John 3:16" or the start of a verse. Trained by this project in about 15 minutes on 2 cores; 1.6 million parameters.',
        inputs,
        outputs,
        pre: textGenerationPipeline.name,
        post: textGenerationPipeline.name,
        price: { perUnit: 20, unit: '1,000 generated pieces' },
        sizeClass: 'phone',
        tolerance: { measure: 'text' },
        license: {
          spdx: 'CC0-1.0',
          source:
            'Debian bible-kjv-text (public domain), trained by relay/model-tools/text-model/train.py (npm run train-text-model)',
        },
        metrics: {
          validationBitsPerByte: report.validationBitsPerByte,
          parameters: report.parameters,
          trainSteps: report.steps,
          seed: report.seed,
        },
        textGeneration: {
          tokenizer: 'byte',
          template: 'plain',
          contextLength: config.context,
          bos: config.bos,
          eos: [config.eos],
          cache: { layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim },
          price: { perThousandPrompt: 5, perThousandGenerated: 20 },
        },
      },
      main,
    };
    return [built];
  },
};
