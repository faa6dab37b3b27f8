/**
 * Principal component analysis of the user's table: the columns are centred
 * and their covariance (n − 1 denominator) decomposed by cyclic Jacobi in
 * float64 here ({@link symmetricEigen}); components are sorted by variance,
 * largest first, each signed so its largest-magnitude entry is positive. The
 * ONNX graph projects the rows: (X − mean)·components.
 *
 * The graph sees X − o and mean − o, o the per-column medians
 * ({@link columnOrigin}): the same difference, with float32 carrying the
 * spread of each column rather than its offset.
 */
import * as v from 'valibot';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import { err, ok, type Result } from '#core/result.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import type { RunOptions } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import { symmetricEigen } from './linalg.ts';
import {
  DATA_DEFAULT_COMPONENTS,
  DATA_MAX_COLUMNS,
  DATA_MAX_ROWS,
  checkTable,
  closeLists,
  closeMatrices,
  columnOrigin,
  decodeOutputWith,
  decodeTable,
  encodeTable,
  finiteList,
  finiteMatrix,
  requireFiniteFeed,
  shiftedFloat32,
  tableUnits,
  toMatrix,
  type DataParameter,
  type DataTable,
} from './table.ts';

export const PCA_JOB = 'pca';
/** Graph inputs X float32 [n, d], mean float32 [1, d], components float32 [d, m]; output projected float32 [n, m]. */
export const PCA_X = 'X';
export const PCA_MEAN = 'mean';
export const PCA_COMPONENTS = 'components';
export const PCA_PROJECTED = 'projected';
/** The catalogue tolerance: see {@link closeLists} for how max-abs is scaled. */
export const PCA_TOLERANCE = 1e-4;

const PARAMETERS: readonly DataParameter[] = ['components'];

export interface PcaResult {
  /** m unit vectors of d values, the directions of largest variance first. */
  readonly components: readonly (readonly number[])[];
  /** The variance along each component (n − 1 denominator). */
  readonly explainedVariance: readonly number[];
  /** Each component's share of the total variance (0 when the data has none). */
  readonly explainedVarianceRatio: readonly number[];
  /** The column means. */
  readonly mean: readonly number[];
  /** Each row's coordinates along the components (from the ONNX graph). */
  readonly projected: readonly (readonly number[])[];
}

export interface PcaFit {
  readonly mean: Float64Array;
  /** Unit eigenvectors of the covariance, m of them, largest variance first. */
  readonly components: Float64Array[];
  readonly explainedVariance: Float64Array;
  readonly explainedVarianceRatio: Float64Array;
}

const invalid = (message: string): InvalidModelInputError => new InvalidModelInputError(`${PCA_JOB} input: ${message}`);

/** Checks a table for PCA: at least two rows. */
export function checkPcaInput(value: unknown): Result<DataTable, InvalidModelInputError> {
  const checked = checkTable(PCA_JOB, value, PARAMETERS);
  if (!checked.ok) return checked;
  if (checked.value.rows.length < 2) return err(invalid('needs at least 2 rows'));
  return ok(checked.value);
}

/** Fits PCA in float64. The table must have passed the check. */
export function fitPca(table: DataTable): PcaFit {
  const n = table.rows.length;
  const d = table.rows[0]?.length ?? 0;
  const m = table.components ?? Math.min(DATA_DEFAULT_COMPONENTS, d);
  const x = toMatrix(table.rows);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[i * d + j] as number);
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / n;
  const covariance = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[j] = (x[i * d + j] as number) - (mean[j] as number);
    for (let p = 0; p < d; p++) {
      const cp = centred[p] as number;
      for (let q = p; q < d; q++)
        covariance[p * d + q] = (covariance[p * d + q] as number) + cp * (centred[q] as number);
    }
  }
  for (let p = 0; p < d; p++) {
    for (let q = p; q < d; q++) {
      const c = (covariance[p * d + q] as number) / (n - 1);
      covariance[p * d + q] = c;
      covariance[q * d + p] = c;
    }
  }
  const eigen = symmetricEigen(covariance, d);
  // Rounding can leave the smallest eigenvalues a hair below zero; a variance is not negative.
  const variances = Float64Array.from(eigen.values, (x) => Math.max(0, x));
  let total = 0;
  for (const x of variances) total += x;
  const explainedVariance = variances.slice(0, m);
  return {
    mean,
    components: eigen.vectors.slice(0, m),
    explainedVariance,
    explainedVarianceRatio: explainedVariance.map((x) => (total > 0 ? x / total : 0)),
  };
}

const resultSchema = v.pipe(
  v.strictObject({
    components: v.pipe(finiteMatrix(DATA_MAX_COLUMNS, DATA_MAX_COLUMNS), v.minLength(1)),
    explainedVariance: finiteList(DATA_MAX_COLUMNS),
    explainedVarianceRatio: finiteList(DATA_MAX_COLUMNS),
    mean: v.pipe(finiteList(DATA_MAX_COLUMNS), v.minLength(1)),
    projected: v.pipe(finiteMatrix(DATA_MAX_ROWS, DATA_MAX_COLUMNS), v.minLength(2)),
  }),
  v.check((r) => {
    const m = r.components.length;
    const d = r.mean.length;
    return (
      m <= d &&
      r.components.every((c) => c.length === d) &&
      r.explainedVariance.length === m &&
      r.explainedVarianceRatio.length === m &&
      r.projected.every((p) => p.length === m)
    );
  }, 'components, variances and projections must agree in size'),
);

export const pcaPipeline: ModelPipeline<DataTable, PcaResult> = {
  name: PCA_JOB,

  decodeInput(bytes: Uint8Array): Result<DataTable, InvalidModelInputError> {
    const decoded = decodeTable(PCA_JOB, bytes, PARAMETERS);
    return decoded.ok ? checkPcaInput(decoded.value) : decoded;
  },

  encodeInput: encodeTable,

  units: tableUnits,

  async run(models: PipelineModels, input: DataTable, options?: RunOptions): Promise<PcaResult> {
    const checked = checkPcaInput(input);
    if (!checked.ok) throw checked.error;
    const table = checked.value;
    const fit = fitPca(table);
    const n = table.rows.length;
    const d = fit.mean.length;
    const m = fit.components.length;
    const x = toMatrix(table.rows);
    const origin = columnOrigin(x, n, d);
    const meanFeed = Float32Array.from(fit.mean, (mu, j) => mu - (origin[j] as number));
    const componentsFeed = new Float32Array(d * m);
    fit.components.forEach((component, c) => {
      component.forEach((value, j) => (componentsFeed[j * m + c] = value));
    });
    requireFiniteFeed(PCA_JOB, 'the mean', meanFeed);
    const outputs = await models.main.run(
      {
        [PCA_X]: float32Tensor(shiftedFloat32(x, n, d, origin), [n, d]),
        [PCA_MEAN]: float32Tensor(meanFeed, [1, d]),
        [PCA_COMPONENTS]: float32Tensor(componentsFeed, [d, m]),
      },
      options,
    );
    const out = outputs[PCA_PROJECTED];
    if (out?.type !== 'float32' || out.data.length !== n * m) {
      throw new TypeError(`${PCA_JOB} model must output float32 ${PCA_PROJECTED}[${n}, ${m}]`);
    }
    const projected = out.data as Float32Array;
    requireFiniteFeed(PCA_JOB, 'a projection', projected);
    return {
      components: fit.components.map((c) => Array.from(c)),
      explainedVariance: Array.from(fit.explainedVariance),
      explainedVarianceRatio: Array.from(fit.explainedVarianceRatio),
      mean: Array.from(fit.mean),
      projected: Array.from({ length: n }, (_, i) => Array.from(projected.subarray(i * m, (i + 1) * m))),
    };
  },

  encodeOutput(output: PcaResult): Uint8Array {
    return encodeCanonical({
      components: output.components.map((c) => [...c]),
      explainedVariance: [...output.explainedVariance],
      explainedVarianceRatio: [...output.explainedVarianceRatio],
      mean: [...output.mean],
      projected: output.projected.map((p) => [...p]),
    });
  },

  decodeOutput(bytes: Uint8Array): Result<PcaResult, InvalidModelInputError> {
    return decodeOutputWith(PCA_JOB, bytes, resultSchema);
  },

  /**
   * With max-abs tolerance t: components, variances, ratios, mean and the
   * projection each within t × max(1, the field's largest magnitude), see
   * {@link closeLists}. Other measures mean nothing for PCA and demand exact
   * equality.
   */
  agree(a: PcaResult, b: PcaResult, tolerance: Tolerance): boolean {
    const t = tolerance.measure === 'max-abs' ? tolerance.value : 0;
    return (
      closeMatrices(a.components, b.components, t) &&
      closeLists(a.explainedVariance, b.explainedVariance, t) &&
      closeLists(a.explainedVarianceRatio, b.explainedVarianceRatio, t) &&
      closeLists(a.mean, b.mean, t) &&
      closeMatrices(a.projected, b.projected, t)
    );
  },
};
