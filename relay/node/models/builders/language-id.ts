/**
 * Builds lande's language identifier (npm `lande`, MIT © Fabio Spampinato) as
 * an ONNX graph: lande 1.0.10's t50 network is a toygrad network (input 620 →
 * dense 120 → relu → dense 50 → softmax) whose weights ship as encoded strings
 * in `lande/standalone/t50-options.js`. They are decoded here (as toygrad
 * decodes them) and written as float32 initialisers of Gemm, Relu and Softmax
 * nodes that compute in float32 (see {@link toOnnx}). The n-gram features are
 * computed by the pipeline in shared/core/pipelines/language-id, whose
 * vocabulary and labels are checked against the installed package, and the
 * graph itself is run in onnxruntime-node and checked against lande's own
 * output on a few sentences before it is written.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { Hash } from '#core/identity/ids.ts';
import { LANGUAGE_ID_FEATURES, languageIdFeatures } from '#core/pipelines/language-id/features.ts';
import { LANGUAGE_ID_LABELS } from '#core/pipelines/language-id/labels.ts';
import {
  LANGUAGE_ID_INPUT,
  LANGUAGE_ID_OUTPUT,
  languageIdPipeline,
  rankLanguages,
} from '#core/pipelines/language-id/pipeline.ts';
import { LANGUAGE_ID_NGRAMS, type LandeNgrams } from '#core/pipelines/language-id/vocabulary.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import type { BuiltModel, ModelBuilder } from './builder.ts';

const { onnx } = onnxProto;

/** The ONNX opset and IR version of the graph. */
const OPSET = 13;
const IR_VERSION = 8;
/**
 * How far the float32 graph may stray from lande's own probabilities (toygrad
 * sums in float64). Measured with onnxruntime-node and onnxruntime-web on the
 * test fixture's 61 texts: at most 6.2e-5 (node) and 4.1e-5 (web); the test
 * uses the same bound. The top labels must agree exactly.
 */
const SELF_CHECK_TOLERANCE = 1e-4;

/** One layer of a toygrad network as its options serialise it. */
interface ToygradLayer {
  readonly type: string;
  readonly sz?: number;
  readonly filters?: number;
  readonly bias?: number;
  readonly _biases?: string;
  readonly _filters?: readonly string[];
}

interface LandeFiles {
  readonly version: string;
  readonly layers: readonly ToygradLayer[];
  readonly ngrams: LandeNgrams;
  readonly langs: readonly string[];
  /** lande's detector: languages with probabilities, most likely first. */
  readonly detect: (text: string) => [string, number][];
}

/** Loads lande's model files (deep paths its `exports` map hides, so by URL next to its entry point). */
async function loadLande(): Promise<LandeFiles> {
  // (createRequire, not import.meta.resolve, which vitest's module runner lacks; the build also runs there.)
  const main = pathToFileURL(createRequire(import.meta.url).resolve('lande'));
  const importDefault = async (file: string): Promise<unknown> =>
    ((await import(/* @vite-ignore */ new URL(file, main).href)) as { default: unknown }).default;
  const pkg = JSON.parse(await readFile(new URL('../package.json', main), 'utf8')) as { version: string };
  const options = (await importDefault('./t50-options.js')) as { layers: ToygradLayer[] };
  return {
    version: pkg.version,
    layers: options.layers,
    ngrams: (await importDefault('./t50-ngrams.js')) as LandeNgrams,
    langs: (await importDefault('./t50-langs.js')) as string[],
    detect: (await importDefault('./t50.js')) as LandeFiles['detect'],
  };
}

const latin1 = (base64: string): Uint8Array => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

/**
 * Decodes a toygrad weight string (toygrad's Encoder): `4<base64>` float32
 * bytes split into four byte planes, or `1<scale>|<base64>` 8-bit values
 * `(byte - 127) / scale`.
 */
export function decodeToygradWeights(encoded: string): Float32Array {
  if (encoded.startsWith('4')) {
    const bytes = latin1(encoded.slice(1));
    const n = bytes.length / 4;
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < n; i++) {
      for (let plane = 0; plane < 4; plane++) out[i * 4 + plane] = bytes[plane * n + i] as number;
    }
    // toygrad reinterprets the bytes in platform order, which is little-endian wherever this runs.
    return new Float32Array(out.buffer);
  }
  const separator = encoded.indexOf('|');
  if (encoded.startsWith('1') && encoded[1] !== '-' && separator > 1) {
    const scale = Number(encoded.slice(1, separator));
    const bytes = latin1(encoded.slice(separator + 1));
    return Float32Array.from(bytes, (b) => (b - 127) / scale);
  }
  throw new Error(`unsupported toygrad weight encoding ${encoded.slice(0, 8)}…`);
}

/** A dense layer's weights: `filters` rows of `inputs` values (the Gemm B operand with transB), and biases. */
interface Dense {
  readonly inputs: number;
  readonly outputs: number;
  readonly weights: Float32Array;
  readonly biases: Float32Array;
}

type Step = { readonly op: 'dense'; readonly dense: Dense } | { readonly op: 'relu' } | { readonly op: 'softmax' };

/** The network as steps, with every dense layer's weights decoded and their sizes checked. */
function decodeNetwork(layers: readonly ToygradLayer[]): { readonly inputs: number; readonly steps: Step[] } {
  const [input, ...rest] = layers;
  if (input?.type !== 'input' || input.sz === undefined) throw new Error('lande network: no input layer');
  let width = input.sz;
  const steps: Step[] = [];
  for (const layer of rest) {
    if (layer.type === 'relu') steps.push({ op: 'relu' });
    else if (layer.type === 'softmax') steps.push({ op: 'softmax' });
    else if (layer.type === 'dense') {
      const outputs = layer.filters ?? 0;
      const rows = layer._filters ?? [];
      if (rows.length !== outputs)
        throw new Error(`lande network: dense layer has ${rows.length} of ${outputs} filters`);
      const weights = new Float32Array(outputs * width);
      rows.forEach((row, i) => {
        const decoded = decodeToygradWeights(row);
        if (decoded.length !== width) throw new Error(`lande network: filter of ${decoded.length}, expected ${width}`);
        weights.set(decoded, i * width);
      });
      // toygrad: bias -1 means none; otherwise the stored biases, or every bias set to `bias`.
      const bias = layer.bias ?? 0;
      const biases =
        bias === -1
          ? new Float32Array(outputs)
          : layer._biases !== undefined
            ? decodeToygradWeights(layer._biases)
            : new Float32Array(outputs).fill(bias);
      if (biases.length !== outputs) throw new Error(`lande network: ${biases.length} biases, expected ${outputs}`);
      steps.push({ op: 'dense', dense: { inputs: width, outputs, weights, biases } });
      width = outputs;
    } else throw new Error(`lande network: unsupported layer ${layer.type}`);
  }
  if (steps.at(-1)?.op !== 'softmax') throw new Error('lande network: last layer is not softmax');
  if (width !== LANGUAGE_ID_LABELS.length) throw new Error(`lande network: ${width} outputs`);
  return { inputs: input.sz, steps };
}

const floatTensor = (name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto => ({
  name,
  dims,
  dataType: onnx.TensorProto.DataType.FLOAT,
  rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice(),
});

const floatValue = (name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType: onnx.TensorProto.DataType.FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

/**
 * The ONNX model: features [batch, 620] → Gemm → Relu → Gemm → Softmax →
 * probabilities [batch, 50], all in float32 with lande's float32 weights.
 * toygrad sums in float64 and rounds each layer's output to float32, so the
 * graph's probabilities drift from lande's by float32 rounding (its logits
 * are large; see {@link SELF_CHECK_TOLERANCE}). The catalogue's tolerance is
 * the top label, which that drift does not change; computing in double would
 * make the browser's WASM runtime several times slower.
 */
function toOnnx(network: { readonly inputs: number; readonly steps: readonly Step[] }, version: string): Uint8Array {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  let current = LANGUAGE_ID_INPUT;
  network.steps.forEach((step, i) => {
    const output = i === network.steps.length - 1 ? LANGUAGE_ID_OUTPUT : `${step.op}${i}`;
    if (step.op === 'dense') {
      const { inputs, outputs, weights, biases } = step.dense;
      initializer.push(floatTensor(`dense${i}.weight`, [outputs, inputs], weights));
      initializer.push(floatTensor(`dense${i}.bias`, [outputs], biases));
      nodes.push({
        name: `dense${i}`,
        opType: 'Gemm',
        input: [current, `dense${i}.weight`, `dense${i}.bias`],
        output: [output],
        attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      });
    } else if (step.op === 'relu') {
      nodes.push({ name: `relu${i}`, opType: 'Relu', input: [current], output: [output] });
    } else {
      nodes.push({
        name: `softmax${i}`,
        opType: 'Softmax',
        input: [current],
        output: [output],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }],
      });
    }
    current = output;
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'ai-compute-network',
    docString: `lande ${version} t50 language identifier (MIT, Fabio Spampinato), converted from its toygrad weights`,
    graph: {
      name: 'lande-t50',
      node: nodes,
      initializer,
      input: [floatValue(LANGUAGE_ID_INPUT, ['batch', network.inputs])],
      output: [floatValue(LANGUAGE_ID_OUTPUT, ['batch', LANGUAGE_ID_LABELS.length])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Sentences the decoded network must classify as lande does before the graph is written. */
const PROBES = [
  'What language is this sentence written in?',
  'In che lingua è scritta questa frase?',
  'Ich weiß nicht, ob er morgen kommt.',
  'Мы пойдём гулять, если не будет дождя.',
  '私は毎朝コーヒーを飲みます。',
  // The fixture sentences on which float32 drifts furthest from lande (onnxruntime-node and -web).
  'Jeg gik på markedet i går sammen med min bror, og vi købte friske grøntsager.',
  'Jeg vet ikke om han kommer hit i morgen, men jeg håper det.',
];

/**
 * Runs the graph in onnxruntime-node on {@link PROBES} and throws unless every
 * top label is lande's and every probability is within
 * {@link SELF_CHECK_TOLERANCE} of lande's. Returns the largest difference.
 */
async function checkAgainstLande(bytes: Uint8Array, lande: LandeFiles): Promise<number> {
  const { createOrtNodeRuntime } = await import('#node/inference/ort-node-runtime.ts');
  const session = await createOrtNodeRuntime().load(bytes, sha256Hex(bytes) as Hash);
  try {
    const batch = new Float32Array(PROBES.length * LANGUAGE_ID_FEATURES);
    PROBES.forEach((text, i) => {
      batch.set(languageIdFeatures(text), i * LANGUAGE_ID_FEATURES);
    });
    const out = await session.run({
      [LANGUAGE_ID_INPUT]: float32Tensor(batch, [PROBES.length, LANGUAGE_ID_FEATURES]),
    });
    const data = out[LANGUAGE_ID_OUTPUT]?.data;
    const L = LANGUAGE_ID_LABELS.length;
    if (!(data instanceof Float32Array) || data.length !== PROBES.length * L) {
      throw new Error('lande graph: unexpected output');
    }
    let maxDiff = 0;
    PROBES.forEach((text, i) => {
      const ours = data.subarray(i * L, (i + 1) * L);
      const theirs = lande.detect(text);
      const [oursTop, theirsTop] = [rankLanguages(ours)[0]?.label, theirs[0]?.[0]];
      if (oursTop !== theirsTop) throw new Error(`lande graph labels "${text}" ${oursTop}, lande ${theirsTop}`);
      for (const [label, p] of theirs) {
        const index = (LANGUAGE_ID_LABELS as readonly string[]).indexOf(label);
        maxDiff = Math.max(maxDiff, Math.abs(p - (ours[index] ?? NaN)));
      }
    });
    if (!(maxDiff <= SELF_CHECK_TOLERANCE)) throw new Error(`lande graph differs from lande by ${maxDiff}`);
    return maxDiff;
  } finally {
    await session.release();
  }
}

export const languageIdBuilder: ModelBuilder = {
  name: 'language-id',
  async build(log) {
    const lande = await loadLande();
    if (!sameList(lande.langs, LANGUAGE_ID_LABELS)) throw new Error('lande labels differ from LANGUAGE_ID_LABELS');
    for (const order of ['unigrams', 'bigrams', 'trigrams', 'quadgrams'] as const) {
      if (!sameList(lande.ngrams[order], LANGUAGE_ID_NGRAMS[order])) {
        throw new Error(`lande ${order} differ from LANGUAGE_ID_NGRAMS`);
      }
    }
    const network = decodeNetwork(lande.layers);
    if (network.inputs !== LANGUAGE_ID_FEATURES) throw new Error(`lande network takes ${network.inputs} features`);

    const main = toOnnx(network, lande.version);
    const maxDiff = await checkAgainstLande(main, lande);
    log(
      `lande ${lande.version}: ${network.inputs} features, ${LANGUAGE_ID_LABELS.length} languages, max diff ${maxDiff.toExponential(2)}`,
    );
    const model: BuiltModel = {
      entry: {
        name: 'lande-t50',
        version: lande.version,
        kind: 'language-id',
        description:
          'Identifies the language of a text among 50 (ISO 639-3 codes): character 1- to 4-gram frequencies into a small dense network (lande t50).',
        inputs: [{ name: LANGUAGE_ID_INPUT, type: 'float32', shape: ['batch', network.inputs] }],
        outputs: [{ name: LANGUAGE_ID_OUTPUT, type: 'float32', shape: ['batch', LANGUAGE_ID_LABELS.length] }],
        pre: languageIdPipeline.name,
        post: languageIdPipeline.name,
        price: { perUnit: 1, unit: 'text' },
        sizeClass: 'phone',
        tolerance: { measure: 'top1' },
        license: { spdx: 'MIT', source: `npm lande ${lande.version}, Fabio Spampinato` },
        metrics: { languages: LANGUAGE_ID_LABELS.length, features: network.inputs },
      },
      main,
    };
    return [model];
  },
};
