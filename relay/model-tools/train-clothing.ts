/**
 * Trains the clothing classifier: a 784-128-10 multilayer perceptron (ReLU,
 * softmax cross-entropy, Adam with a cosine learning-rate decay, mini-batches)
 * on Fashion-MNIST from Debian's `dataset-fashion-mnist` package, in plain
 * TypeScript (Float32Array math, no ML framework, one thread). A fixed seed
 * drives the weight initialisation and the shuffles, so a run gives the same
 * weights, bit for bit, every time (only `trainSeconds` differs).
 *
 * It writes the network as ONNX (input `image` float32 [batch,1,28,28] holding
 * pixel/255 with the Fashion-MNIST convention of a light object on a dark
 * background, output `logits` float32 [batch,10]) and its accuracy on the 10k
 * held-out test set, measured by running that ONNX file in onnxruntime-node:
 *
 *   node relay/model-tools/train-clothing.ts [--epochs N] [--seed N] [--data DIR] [--out DIR]
 *
 * The pre- and post-processing around the network live in
 * shared/core/pipelines/image-classification/.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { CLOTHING_LABELS } from '#core/pipelines/image-classification/labels.ts';

const { onnx } = onnxProto;

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const CLOTHING_ARTIFACTS_DIR = 'relay/node/models/artifacts';
export const CLOTHING_ONNX = 'clothing-mlp.onnx';
export const CLOTHING_REPORT = 'clothing-mlp.json';

const PIXELS = 28 * 28;
const HIDDEN = 128;
const CLASSES = 10;

export interface TrainConfig {
  readonly epochs: number;
  readonly seed: number;
  readonly batchSize: number;
  readonly learningRate: number;
}

export const DEFAULT_CONFIG: TrainConfig = { epochs: 8, seed: 20240917, batchSize: 64, learningRate: 2e-3 };

/** What `clothing-mlp.json` holds. */
export interface ClothingReport {
  readonly testAccuracy: number;
  readonly trainSeconds: number;
  readonly epochs: number;
  readonly seed: number;
  readonly dataset: string;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly architecture: string;
}

// ---------------------------------------------------------------------------
// Data: IDX files (big-endian header, then one unsigned byte per pixel/label).

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** `count * rows * cols` bytes, image after image, row-major. */
  readonly pixels: Uint8Array;
}

export function parseIdxImages(bytes: Uint8Array): IdxImages {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x00000803) throw new Error('not an IDX3 unsigned-byte file');
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  const pixels = bytes.subarray(16, 16 + count * rows * cols);
  if (pixels.length !== count * rows * cols) throw new Error('truncated IDX3 file');
  return { count, rows, cols, pixels };
}

export function parseIdxLabels(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x00000801) throw new Error('not an IDX1 unsigned-byte file');
  const count = view.getUint32(4);
  const labels = bytes.subarray(8, 8 + count);
  if (labels.length !== count) throw new Error('truncated IDX1 file');
  return labels;
}

export interface LabelledImages {
  readonly images: IdxImages;
  readonly labels: Uint8Array;
}

export async function readFashionMnist(split: 'train' | 't10k', dir = FASHION_MNIST_DIR): Promise<LabelledImages> {
  const images = parseIdxImages(gunzipSync(await readFile(join(dir, `${split}-images-idx3-ubyte.gz`))));
  const labels = parseIdxLabels(gunzipSync(await readFile(join(dir, `${split}-labels-idx1-ubyte.gz`))));
  if (images.count !== labels.length || images.rows !== 28 || images.cols !== 28) {
    throw new Error(`${split}: unexpected Fashion-MNIST shape`);
  }
  return { images, labels };
}

// ---------------------------------------------------------------------------
// A small seeded generator (SplitMix32-style mixing of a Weyl sequence).

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// The network. W1 is [784][128] (input-major, as ONNX Gemm takes it with
// transB = 0), W2 is [128][10].

export interface MlpWeights {
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  readonly w2: Float32Array;
  readonly b2: Float32Array;
}

function initWeights(random: () => number): MlpWeights {
  // He-uniform for the ReLU layer, Glorot-uniform for the output layer.
  const w1 = new Float32Array(PIXELS * HIDDEN);
  const limit1 = Math.sqrt(6 / PIXELS);
  for (let i = 0; i < w1.length; i++) w1[i] = (random() * 2 - 1) * limit1;
  const w2 = new Float32Array(HIDDEN * CLASSES);
  const limit2 = Math.sqrt(6 / (HIDDEN + CLASSES));
  for (let i = 0; i < w2.length; i++) w2[i] = (random() * 2 - 1) * limit2;
  return { w1, b1: new Float32Array(HIDDEN), w2, b2: new Float32Array(CLASSES) };
}

/** pixel / 255 for every byte. */
const UNIT = new Float32Array(256).map((_, i) => i / 255);

/**
 * Hidden activations of one image: only its non-zero pixels contribute
 * (about half of a Fashion-MNIST image is exactly 0), each adding its row of W1.
 */
function hiddenLayer(
  w: MlpWeights,
  pixels: Uint8Array,
  offset: number,
  nz: Int32Array,
  nzCount: number,
  h: Float64Array,
): void {
  const { w1, b1 } = w;
  for (let j = 0; j < HIDDEN; j++) h[j] = b1[j] as number;
  for (let k = 0; k < nzCount; k++) {
    const i = nz[k] as number;
    const x = UNIT[pixels[offset + i] as number] as number;
    addRow(x, w1, i * HIDDEN, h);
  }
  for (let j = 0; j < HIDDEN; j++) if ((h[j] as number) < 0) h[j] = 0;
}

/** h[j] += a * w[wo + j] for the HIDDEN values j, unrolled by four (HIDDEN is a multiple of 4). */
function addRow(a: number, w: Float32Array, wo: number, h: Float64Array): void {
  for (let j = 0; j < HIDDEN; j += 4) {
    h[j] = (h[j] as number) + a * (w[wo + j] as number);
    h[j + 1] = (h[j + 1] as number) + a * (w[wo + j + 1] as number);
    h[j + 2] = (h[j + 2] as number) + a * (w[wo + j + 2] as number);
    h[j + 3] = (h[j + 3] as number) + a * (w[wo + j + 3] as number);
  }
}

/** g[go + j] += a * d[j] for the HIDDEN values j, unrolled by four. */
function addToRow(a: number, d: Float64Array, g: Float32Array, go: number): void {
  for (let j = 0; j < HIDDEN; j += 4) {
    g[go + j] = (g[go + j] as number) + a * (d[j] as number);
    g[go + j + 1] = (g[go + j + 1] as number) + a * (d[j + 1] as number);
    g[go + j + 2] = (g[go + j + 2] as number) + a * (d[j + 2] as number);
    g[go + j + 3] = (g[go + j + 3] as number) + a * (d[j + 3] as number);
  }
}

function outputLayer(w: MlpWeights, h: Float64Array, logits: Float64Array): void {
  const { w2, b2 } = w;
  for (let c = 0; c < CLASSES; c++) logits[c] = b2[c] as number;
  for (let j = 0; j < HIDDEN; j++) {
    const a = h[j] as number;
    if (a === 0) continue;
    const row = j * CLASSES;
    for (let c = 0; c < CLASSES; c++) logits[c] = (logits[c] as number) + a * (w2[row + c] as number);
  }
}

function nonZeroPixels(pixels: Uint8Array, offset: number, nz: Int32Array): number {
  let n = 0;
  for (let i = 0; i < PIXELS; i++) if (pixels[offset + i] !== 0) nz[n++] = i;
  return n;
}

/** Top-1 accuracy of the weights in plain JS (a cross-check of the ONNX figure). */
export function accuracyOf(w: MlpWeights, data: LabelledImages): number {
  const h = new Float64Array(HIDDEN);
  const logits = new Float64Array(CLASSES);
  const nz = new Int32Array(PIXELS);
  let correct = 0;
  for (let n = 0; n < data.images.count; n++) {
    const offset = n * PIXELS;
    hiddenLayer(w, data.images.pixels, offset, nz, nonZeroPixels(data.images.pixels, offset, nz), h);
    outputLayer(w, h, logits);
    if (argmax(logits) === data.labels[n]) correct++;
  }
  return correct / data.images.count;
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Adam over one flat parameter array. */
class Adam {
  readonly #m: Float32Array;
  readonly #v: Float32Array;
  constructor(size: number) {
    this.#m = new Float32Array(size);
    this.#v = new Float32Array(size);
  }
  step(param: Float32Array, grad: Float32Array, lr: number, t: number): void {
    const beta1 = 0.9;
    const beta2 = 0.999;
    const eps = 1e-8;
    const step = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    const m = this.#m;
    const v = this.#v;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i] as number;
      const mi = beta1 * (m[i] as number) + (1 - beta1) * g;
      const vi = beta2 * (v[i] as number) + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = (param[i] as number) - (step * mi) / (Math.sqrt(vi) + eps);
    }
  }
}

export function train(data: LabelledImages, config: TrainConfig, log: (line: string) => void): MlpWeights {
  const random = seededRandom(config.seed);
  const w = initWeights(random);
  const { w1, w2 } = w;
  const grads: MlpWeights = {
    w1: new Float32Array(w.w1.length),
    b1: new Float32Array(HIDDEN),
    w2: new Float32Array(w.w2.length),
    b2: new Float32Array(CLASSES),
  };
  const adam = { w1: new Adam(w1.length), b1: new Adam(HIDDEN), w2: new Adam(w2.length), b2: new Adam(CLASSES) };
  const { pixels } = data.images;
  const count = data.images.count;
  const order = new Int32Array(count).map((_, i) => i);
  const h = new Float64Array(HIDDEN);
  const logits = new Float64Array(CLASSES);
  const dLogits = new Float64Array(CLASSES);
  const dh = new Float64Array(HIDDEN);
  const nz = new Int32Array(PIXELS);
  const batchesPerEpoch = Math.ceil(count / config.batchSize);
  const totalSteps = config.epochs * batchesPerEpoch;
  let t = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const tmp = order[i] as number;
      order[i] = order[j] as number;
      order[j] = tmp;
    }
    let lossSum = 0;
    let correct = 0;
    const started = performance.now();
    for (let start = 0; start < count; start += config.batchSize) {
      const end = Math.min(count, start + config.batchSize);
      const scale = 1 / (end - start);
      grads.w1.fill(0);
      grads.b1.fill(0);
      grads.w2.fill(0);
      grads.b2.fill(0);
      for (let b = start; b < end; b++) {
        const n = order[b] as number;
        const offset = n * PIXELS;
        const label = data.labels[n] as number;
        const nzCount = nonZeroPixels(pixels, offset, nz);
        hiddenLayer(w, pixels, offset, nz, nzCount, h);
        outputLayer(w, h, logits);
        // Softmax cross-entropy; its gradient is (softmax - onehot) / batch.
        const top = logits[argmax(logits)] as number;
        let sum = 0;
        for (let c = 0; c < CLASSES; c++) sum += Math.exp((logits[c] as number) - top);
        lossSum += Math.log(sum) - ((logits[label] as number) - top);
        if (argmax(logits) === label) correct++;
        for (let c = 0; c < CLASSES; c++) {
          dLogits[c] = (Math.exp((logits[c] as number) - top) / sum - (c === label ? 1 : 0)) * scale;
          grads.b2[c] = (grads.b2[c] as number) + (dLogits[c] as number);
        }
        for (let j = 0; j < HIDDEN; j++) {
          const a = h[j] as number;
          const row = j * CLASSES;
          let g = 0;
          for (let c = 0; c < CLASSES; c++) {
            const d = dLogits[c] as number;
            if (a !== 0) grads.w2[row + c] = (grads.w2[row + c] as number) + a * d;
            g += d * (w2[row + c] as number);
          }
          dh[j] = a > 0 ? g : 0;
          grads.b1[j] = (grads.b1[j] as number) + (dh[j] as number);
        }
        for (let k = 0; k < nzCount; k++) {
          const i = nz[k] as number;
          const x = UNIT[pixels[offset + i] as number] as number;
          addToRow(x, dh, grads.w1, i * HIDDEN);
        }
      }
      t++;
      // Cosine decay from the base rate to zero over the whole run.
      const lr = 0.5 * config.learningRate * (1 + Math.cos((Math.PI * (t - 1)) / totalSteps));
      adam.w1.step(w.w1, grads.w1, lr, t);
      adam.b1.step(w.b1, grads.b1, lr, t);
      adam.w2.step(w.w2, grads.w2, lr, t);
      adam.b2.step(w.b2, grads.b2, lr, t);
    }
    const seconds = (performance.now() - started) / 1000;
    log(
      `epoch ${epoch + 1}/${config.epochs}: loss ${(lossSum / count).toFixed(4)}, ` +
        `train accuracy ${((100 * correct) / count).toFixed(2)}%, ${seconds.toFixed(1)} s`,
    );
  }
  return w;
}

// ---------------------------------------------------------------------------
// ONNX export: Flatten -> Gemm -> Relu -> Gemm, opset 13, IR version 8.

function floatInitializer(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  // raw_data is little-endian; copy through a DataView so the host's byte order does not matter.
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function exportOnnx(w: MlpWeights): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'acn relay/model-tools/train-clothing.ts',
    producerVersion: '1',
    docString:
      'Fashion-MNIST clothing classifier, MLP 784-128-10. Input: pixel/255, 28x28 grayscale, light object on dark background.',
    metadataProps: [{ key: 'labels', value: JSON.stringify(CLOTHING_LABELS) }],
    graph: {
      name: 'clothing-mlp',
      node: [
        { opType: 'Flatten', input: ['image'], output: ['flat'], name: 'flatten', attribute: [axis(1)] },
        { opType: 'Gemm', input: ['flat', 'w1', 'b1'], output: ['hidden'], name: 'dense1' },
        { opType: 'Relu', input: ['hidden'], output: ['relu'], name: 'relu' },
        { opType: 'Gemm', input: ['relu', 'w2', 'b2'], output: ['logits'], name: 'dense2' },
      ],
      initializer: [
        floatInitializer('w1', [PIXELS, HIDDEN], w.w1),
        floatInitializer('b1', [HIDDEN], w.b1),
        floatInitializer('w2', [HIDDEN, CLASSES], w.w2),
        floatInitializer('b2', [CLASSES], w.b2),
      ],
      input: [valueInfo('image', ['batch', 1, 28, 28])],
      output: [valueInfo('logits', ['batch', CLASSES])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function axis(value: number): onnxProto.onnx.IAttributeProto {
  return { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: value };
}

/** Test accuracy of the exported ONNX file, run in onnxruntime-node on the whole set in batches. */
export async function onnxAccuracy(bytes: Uint8Array, data: LabelledImages): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const batch = 1000;
  let correct = 0;
  for (let start = 0; start < data.images.count; start += batch) {
    const n = Math.min(batch, data.images.count - start);
    const input = new Float32Array(n * PIXELS);
    for (let i = 0; i < input.length; i++) input[i] = UNIT[data.images.pixels[start * PIXELS + i] as number] as number;
    const out = await session.run({ image: new ort.Tensor('float32', input, [n, 1, 28, 28]) });
    const logits = (out.logits as ort.Tensor).data as Float32Array;
    for (let k = 0; k < n; k++) {
      if (argmax(logits.subarray(k * CLASSES, (k + 1) * CLASSES)) === data.labels[start + k]) correct++;
    }
  }
  await session.release();
  return correct / data.images.count;
}

async function writeAtomically(path: string, bytes: Uint8Array | string): Promise<void> {
  await writeFile(`${path}.tmp`, bytes);
  await rename(`${path}.tmp`, path);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      epochs: { type: 'string' },
      seed: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const config: TrainConfig = {
    ...DEFAULT_CONFIG,
    ...(values.epochs !== undefined ? { epochs: Number(values.epochs) } : {}),
    ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
  };
  const dataDir = values.data ?? FASHION_MNIST_DIR;
  const outDir = values.out ?? CLOTHING_ARTIFACTS_DIR;
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const trainSet = await readFashionMnist('train', dataDir);
  const testSet = await readFashionMnist('t10k', dataDir);
  log(`train-clothing: ${trainSet.images.count} training and ${testSet.images.count} test images`);
  const started = performance.now();
  const weights = train(trainSet, config, log);
  const trainSeconds = Math.round((performance.now() - started) / 100) / 10;
  const jsAccuracy = accuracyOf(weights, testSet);
  const bytes = exportOnnx(weights);
  const testAccuracy = await onnxAccuracy(bytes, testSet);
  log(
    `train-clothing: test accuracy ${(100 * testAccuracy).toFixed(2)}% (ONNX), ${(100 * jsAccuracy).toFixed(2)}% (JS)`,
  );
  if (testAccuracy !== jsAccuracy) log('train-clothing: warning: ONNX and JS accuracies differ');
  const report: ClothingReport = {
    testAccuracy,
    trainSeconds,
    epochs: config.epochs,
    seed: config.seed,
    dataset: 'Fashion-MNIST (Debian dataset-fashion-mnist): 60000 training, 10000 test images',
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    architecture: 'MLP 784-128-10, ReLU, softmax cross-entropy, Adam with cosine decay',
  };
  await mkdir(outDir, { recursive: true });
  await writeAtomically(join(outDir, CLOTHING_ONNX), bytes);
  await writeAtomically(join(outDir, CLOTHING_REPORT), JSON.stringify(report, null, 2) + '\n');
  log(`train-clothing: wrote ${join(outDir, CLOTHING_ONNX)} (${bytes.length} bytes) in ${trainSeconds} s of training`);
}
