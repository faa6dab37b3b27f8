/**
 * Builds the three static graphs of the data jobs (shared/core/pipelines/data):
 * the fitting runs in the pipelines; the graphs take the fitted parameters as
 * inputs, so each file is fixed and content-addressed whatever the data.
 *
 *   linear regression  Y = X·W + b                     X [n, d], W [d, 1], b [1] → Y [n, 1]
 *   k-means            distances = Σ_d (X − C)², labels = ArgMin   X [n, d], C [k, d] → [n, k], [n] int64
 *   PCA                projected = (X − mean)·components         X [n, d], mean [1, d], components [d, m] → [n, m]
 *
 * Each graph is then run through its pipeline in onnxruntime-node on data
 * whose answer is known by construction; those figures are the metrics.
 */
import onnxProto from 'onnx-proto';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { Hash } from '#core/identity/ids.ts';
import type { PipelineModels } from '#core/models/pipeline.ts';
import { KMEANS_C, KMEANS_DISTANCES, KMEANS_LABELS, KMEANS_X, kmeansPipeline } from '#core/pipelines/data/kmeans.ts';
import {
  LINEAR_REGRESSION_B,
  LINEAR_REGRESSION_TOLERANCE,
  LINEAR_REGRESSION_W,
  LINEAR_REGRESSION_X,
  LINEAR_REGRESSION_Y,
  linearRegressionPipeline,
} from '#core/pipelines/data/linear-regression.ts';
import {
  PCA_COMPONENTS,
  PCA_MEAN,
  PCA_PROJECTED,
  PCA_TOLERANCE,
  PCA_X,
  pcaPipeline,
} from '#core/pipelines/data/pca.ts';
import type { BuiltModel, ModelBuilder } from './builder.ts';

const { onnx } = onnxProto;

const OPSET = 13;
const IR_VERSION = 8;
const VERSION = '1';
const LICENSE = { spdx: 'MIT', source: 'built by relay/node/models/builders/data-jobs.ts' };
const PRICE = { perUnit: 1, unit: '100 rows' };

type Dim = number | string;
type ElemType = 'float32' | 'int64';

const ELEM_TYPES = { float32: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64 } as const;

const valueInfo = (name: string, type: ElemType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType: ELEM_TYPES[type],
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

const int64Constant = (name: string, values: readonly number[]): onnxProto.onnx.ITensorProto => ({
  name,
  dims: [values.length],
  dataType: onnx.TensorProto.DataType.INT64,
  int64Data: [...values],
});

const intAttribute = (name: string, i: number): onnxProto.onnx.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INT,
  i,
});

interface Io {
  readonly name: string;
  readonly type: ElemType;
  readonly shape: readonly Dim[];
}

interface Graph {
  readonly name: string;
  readonly doc: string;
  readonly inputs: readonly Io[];
  readonly outputs: readonly Io[];
  readonly nodes: readonly onnxProto.onnx.INodeProto[];
  readonly initializer?: readonly onnxProto.onnx.ITensorProto[];
}

function encodeGraph(graph: Graph): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'ai-compute-network',
    docString: graph.doc,
    graph: {
      name: graph.name,
      node: [...graph.nodes],
      initializer: [...(graph.initializer ?? [])],
      input: graph.inputs.map((io) => valueInfo(io.name, io.type, io.shape)),
      output: graph.outputs.map((io) => valueInfo(io.name, io.type, io.shape)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export const LINEAR_REGRESSION_GRAPH: Graph = {
  name: 'linear-regression-predict',
  doc: 'Linear regression predictions Y = X·W + b; the weights are inputs, fitted by the linear-regression pipeline',
  inputs: [
    { name: LINEAR_REGRESSION_X, type: 'float32', shape: ['n', 'd'] },
    { name: LINEAR_REGRESSION_W, type: 'float32', shape: ['d', 1] },
    { name: LINEAR_REGRESSION_B, type: 'float32', shape: [1] },
  ],
  outputs: [{ name: LINEAR_REGRESSION_Y, type: 'float32', shape: ['n', 1] }],
  nodes: [
    { name: 'matmul', opType: 'MatMul', input: [LINEAR_REGRESSION_X, LINEAR_REGRESSION_W], output: ['XW'] },
    { name: 'add', opType: 'Add', input: ['XW', LINEAR_REGRESSION_B], output: [LINEAR_REGRESSION_Y] },
  ],
};

export const KMEANS_GRAPH: Graph = {
  name: 'kmeans-assign',
  doc: 'k-means assignment: squared distances of every row to every centre and the nearest centre (first on ties)',
  inputs: [
    { name: KMEANS_X, type: 'float32', shape: ['n', 'd'] },
    { name: KMEANS_C, type: 'float32', shape: ['k', 'd'] },
  ],
  outputs: [
    { name: KMEANS_DISTANCES, type: 'float32', shape: ['n', 'k'] },
    { name: KMEANS_LABELS, type: 'int64', shape: ['n'] },
  ],
  initializer: [int64Constant('axis0', [0]), int64Constant('axis1', [1]), int64Constant('axis2', [2])],
  nodes: [
    { name: 'rows', opType: 'Unsqueeze', input: [KMEANS_X, 'axis1'], output: ['X3'] },
    { name: 'centres', opType: 'Unsqueeze', input: [KMEANS_C, 'axis0'], output: ['C3'] },
    { name: 'difference', opType: 'Sub', input: ['X3', 'C3'], output: ['D3'] },
    { name: 'square', opType: 'Mul', input: ['D3', 'D3'], output: ['S3'] },
    {
      name: 'sum',
      opType: 'ReduceSum',
      input: ['S3', 'axis2'],
      output: [KMEANS_DISTANCES],
      attribute: [intAttribute('keepdims', 0)],
    },
    {
      name: 'nearest',
      opType: 'ArgMin',
      input: [KMEANS_DISTANCES],
      output: [KMEANS_LABELS],
      attribute: [intAttribute('axis', 1), intAttribute('keepdims', 0), intAttribute('select_last_index', 0)],
    },
  ],
};

export const PCA_GRAPH: Graph = {
  name: 'pca-project',
  doc: 'PCA projection (X − mean)·components; mean and components are inputs, fitted by the pca pipeline',
  inputs: [
    { name: PCA_X, type: 'float32', shape: ['n', 'd'] },
    { name: PCA_MEAN, type: 'float32', shape: [1, 'd'] },
    { name: PCA_COMPONENTS, type: 'float32', shape: ['d', 'm'] },
  ],
  outputs: [{ name: PCA_PROJECTED, type: 'float32', shape: ['n', 'm'] }],
  nodes: [
    { name: 'centre', opType: 'Sub', input: [PCA_X, PCA_MEAN], output: ['Xc'] },
    { name: 'project', opType: 'MatMul', input: ['Xc', PCA_COMPONENTS], output: [PCA_PROJECTED] },
  ],
};

const ioSpec = (ios: readonly Io[]) => ios.map((io) => ({ name: io.name, type: io.type, shape: [...io.shape] }));

/** A reproducible stream of numbers in [0, 1) for the synthetic checks (a 32-bit LCG is plenty here). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function nodeModels(bytes: Uint8Array): Promise<PipelineModels> {
  const { createOrtNodeRuntime } = await import('#node/inference/ort-node-runtime.ts');
  const main = await createOrtNodeRuntime().load(bytes, sha256Hex(bytes) as Hash);
  return { main, sessions: {}, files: {} };
}

/** Regression on 1,000 rows generated from known coefficients with ±0.001 noise. */
async function regressionMetrics(bytes: Uint8Array): Promise<Record<string, number>> {
  const random = lcg(1);
  const truth = [1.5, -2, 0.25, 3];
  const intercept = 10;
  const rows = Array.from({ length: 1000 }, () => {
    const x = truth.map(() => random() * 20 - 10);
    const y = x.reduce((s, xi, j) => s + xi * (truth[j] as number), intercept) + (random() - 0.5) * 0.002;
    return [...x, y];
  });
  const models = await nodeModels(bytes);
  try {
    const result = await linearRegressionPipeline.run(models, { rows });
    const coefficientError = Math.max(
      Math.abs(result.intercept - intercept),
      ...result.coefficients.map((c, j) => Math.abs(c - (truth[j] as number))),
    );
    return { knownCoefficientsMaxError: coefficientError, knownR2: result.r2, knownRmse: result.rmse };
  } finally {
    await models.main.release();
  }
}

/** k-means with k = 3 on 600 rows from three well-separated blobs: the share of rows put with their own blob. */
async function kmeansMetrics(bytes: Uint8Array): Promise<Record<string, number>> {
  const random = lcg(2);
  const blobs = [
    [0, 0, 0],
    [10, 10, 0],
    [-10, 10, 10],
  ];
  const truth: number[] = [];
  const rows = Array.from({ length: 600 }, (_, i) => {
    const blob = i % 3;
    truth.push(blob);
    return (blobs[blob] as number[]).map((c) => c + (random() - 0.5) * 2);
  });
  const models = await nodeModels(bytes);
  try {
    const result = await kmeansPipeline.run(models, { rows, k: 3 });
    // Each found cluster is matched to the blob most of its rows come from.
    let agreeing = 0;
    for (let c = 0; c < 3; c++) {
      const counts = [0, 0, 0];
      result.labels.forEach((label, i) => {
        if (label === c) counts[truth[i] as number] = (counts[truth[i] as number] as number) + 1;
      });
      agreeing += Math.max(...counts);
    }
    return { knownBlobsRecovered: agreeing / rows.length, knownBlobsIterations: result.iterations };
  } finally {
    await models.main.release();
  }
}

/** PCA of rows ±a·u along three known orthonormal axes u: the components must be those axes. */
async function pcaMetrics(bytes: Uint8Array): Promise<Record<string, number>> {
  const axes = [
    [0.6, 0.8, 0, 0],
    [0, 0, 1, 0],
    [0.8, -0.6, 0, 0],
  ];
  const lengths = [5, 3, 1];
  const offset = [100, -50, 7, 1e6];
  const rows: number[][] = [];
  axes.forEach((axis, a) => {
    for (const sign of [1, -1, 0.5, -0.5])
      rows.push(axis.map((u, j) => (offset[j] as number) + sign * (lengths[a] as number) * u));
  });
  const models = await nodeModels(bytes);
  try {
    const result = await pcaPipeline.run(models, { rows, components: 3 });
    let axisError = 0;
    result.components.forEach((component, c) => {
      // The pipeline signs each component so its largest entry is positive, as each axis here is.
      component.forEach(
        (x, j) => (axisError = Math.max(axisError, Math.abs(x - ((axes[c] as number[])[j] as number)))),
      );
    });
    return { knownAxesMaxError: axisError, knownTopVarianceRatio: result.explainedVarianceRatio[0] as number };
  } finally {
    await models.main.release();
  }
}

function built(
  graph: Graph,
  main: Uint8Array,
  fields: Pick<BuiltModel['entry'], 'name' | 'kind' | 'description' | 'pre' | 'post' | 'tolerance' | 'metrics'>,
): BuiltModel {
  return {
    entry: {
      ...fields,
      version: VERSION,
      inputs: ioSpec(graph.inputs),
      outputs: ioSpec(graph.outputs),
      price: PRICE,
      sizeClass: 'phone',
      license: LICENSE,
    },
    main,
  };
}

const rounded = (metrics: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(metrics).map(([name, x]) => [name, Number(x.toPrecision(4))]));

/** The three ONNX files, as the catalogue ships them. */
export function dataJobGraphs(): {
  readonly regression: Uint8Array;
  readonly kmeans: Uint8Array;
  readonly pca: Uint8Array;
} {
  return {
    regression: encodeGraph(LINEAR_REGRESSION_GRAPH),
    kmeans: encodeGraph(KMEANS_GRAPH),
    pca: encodeGraph(PCA_GRAPH),
  };
}

export const dataJobsBuilder: ModelBuilder = {
  name: 'data-jobs',
  async build(log) {
    const { regression, kmeans, pca } = dataJobGraphs();
    const regressionFigures = rounded(await regressionMetrics(regression));
    const kmeansFigures = rounded(await kmeansMetrics(kmeans));
    const pcaFigures = rounded(await pcaMetrics(pca));
    log(`linear regression ${JSON.stringify(regressionFigures)}`);
    log(`k-means ${JSON.stringify(kmeansFigures)}`);
    log(`pca ${JSON.stringify(pcaFigures)}`);
    return [
      built(LINEAR_REGRESSION_GRAPH, regression, {
        name: 'linear-regression-ols',
        kind: 'linear-regression',
        description:
          'Ordinary least squares with an intercept on your table (up to 10,000 × 32): fitted by Householder QR, predictions by the graph Y = X·W + b.',
        pre: linearRegressionPipeline.name,
        post: linearRegressionPipeline.name,
        tolerance: { measure: 'max-abs', value: LINEAR_REGRESSION_TOLERANCE },
        metrics: regressionFigures,
      }),
      built(KMEANS_GRAPH, kmeans, {
        name: 'kmeans-lloyd',
        kind: 'kmeans',
        description:
          'k-means clustering of your table (up to 10,000 × 32, k ≤ 64): seeded k-means++ and Lloyd iterations whose assignment step is the graph.',
        pre: kmeansPipeline.name,
        post: kmeansPipeline.name,
        tolerance: { measure: 'top1' },
        metrics: kmeansFigures,
      }),
      built(PCA_GRAPH, pca, {
        name: 'pca-jacobi',
        kind: 'pca',
        description:
          'Principal components of your table (up to 10,000 × 32): covariance eigenvectors by Jacobi rotations, projection (X − mean)·V by the graph.',
        pre: pcaPipeline.name,
        post: pcaPipeline.name,
        tolerance: { measure: 'max-abs', value: PCA_TOLERANCE },
        metrics: pcaFigures,
      }),
    ];
  },
};
