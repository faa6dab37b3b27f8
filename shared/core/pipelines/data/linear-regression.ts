/**
 * Linear regression on the user's table: ordinary least squares with an
 * intercept, fitted here in float64 (centred columns, Householder QR; a tiny
 * ridge when the features are linearly dependent, see {@link leastSquares}),
 * then the predictions come from the ONNX graph Y = X·W + b, whose weights
 * are graph inputs so the one static model file serves every fit.
 *
 * The graph works in shifted coordinates (see {@link columnOrigin}): it gets
 * X − o (o the per-column medians of the features) and b = intercept + o·W −
 * y₀ (y₀ the median of the target), and y₀ is added back to its outputs in
 * float64, so float32 carries the spread of the data and not its offset.
 * rmse and r² are those of the predictions the graph returned.
 */
import * as v from 'valibot';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import { err, ok, type Result } from '#core/result.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import type { RunOptions } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import { leastSquares } from './linalg.ts';
import {
  DATA_MAX_COLUMNS,
  DATA_MAX_ROWS,
  checkTable,
  closeLists,
  columnOrigin,
  decodeOutputWith,
  decodeTable,
  encodeTable,
  finite,
  finiteList,
  requireFiniteFeed,
  shiftedFloat32,
  tableUnits,
  type DataParameter,
  type DataTable,
} from './table.ts';

export const LINEAR_REGRESSION_JOB = 'linear-regression';
/** Graph inputs X float32 [n, d], W float32 [d, 1], b float32 [1]; output Y float32 [n, 1]. */
export const LINEAR_REGRESSION_X = 'X';
export const LINEAR_REGRESSION_W = 'W';
export const LINEAR_REGRESSION_B = 'b';
export const LINEAR_REGRESSION_Y = 'Y';
/** The catalogue tolerance: see {@link closeLists} for how max-abs is scaled. */
export const LINEAR_REGRESSION_TOLERANCE = 1e-4;

const PARAMETERS: readonly DataParameter[] = ['target'];

export interface LinearRegressionResult {
  /** One coefficient per feature: every column but the target, in table order. */
  readonly coefficients: readonly number[];
  readonly intercept: number;
  /** The model's prediction for each row, in row order (from the ONNX graph). */
  readonly predictions: readonly number[];
  /** Root mean squared residual of the predictions. */
  readonly rmse: number;
  /** Coefficient of determination of the predictions (1 when the target is constant). */
  readonly r2: number;
}

export interface LinearRegressionFit {
  /** The feature columns, in table order. */
  readonly features: readonly number[];
  readonly target: number;
  readonly coefficients: Float64Array;
  readonly intercept: number;
  /** How the least squares were solved: plain QR, or QR of the ridge system when features are dependent. */
  readonly method: 'qr' | 'ridge';
}

const invalid = (message: string): InvalidModelInputError =>
  new InvalidModelInputError(`${LINEAR_REGRESSION_JOB} input: ${message}`);

/** Checks a table for linear regression: at least two rows and two columns (a feature and the target). */
export function checkLinearRegressionInput(value: unknown): Result<DataTable, InvalidModelInputError> {
  const checked = checkTable(LINEAR_REGRESSION_JOB, value, PARAMETERS);
  if (!checked.ok) return checked;
  const table = checked.value;
  if (table.rows.length < 2) return err(invalid('needs at least 2 rows'));
  if ((table.rows[0]?.length ?? 0) < 2) return err(invalid('needs at least 2 columns: a feature and the target'));
  return ok(table);
}

/** Fits ordinary least squares with an intercept, in float64. The table must have passed the check. */
export function fitLinearRegression(table: DataTable): LinearRegressionFit {
  const n = table.rows.length;
  const width = table.rows[0]?.length ?? 0;
  const target = table.target ?? width - 1;
  const features = Array.from({ length: width }, (_, j) => j).filter((j) => j !== target);
  const d = features.length;
  const means = new Float64Array(d);
  let yMean = 0;
  for (const row of table.rows) {
    features.forEach((j, c) => (means[c] = (means[c] as number) + (row[j] as number)));
    yMean += row[target] as number;
  }
  for (let c = 0; c < d; c++) means[c] = (means[c] as number) / n;
  yMean /= n;
  const xc = new Float64Array(n * d);
  const yc = new Float64Array(n);
  table.rows.forEach((row, i) => {
    features.forEach((j, c) => (xc[i * d + c] = (row[j] as number) - (means[c] as number)));
    yc[i] = (row[target] as number) - yMean;
  });
  const { x: coefficients, method } = leastSquares(xc, yc, n, d);
  let intercept = yMean;
  for (let c = 0; c < d; c++) intercept -= (means[c] as number) * (coefficients[c] as number);
  return { features, target, coefficients, intercept, method };
}

const resultSchema = v.strictObject({
  coefficients: v.pipe(finiteList(DATA_MAX_COLUMNS - 1), v.minLength(1)),
  intercept: finite,
  predictions: v.pipe(finiteList(DATA_MAX_ROWS), v.minLength(2)),
  rmse: v.pipe(finite, v.minValue(0)),
  r2: finite,
});

export const linearRegressionPipeline: ModelPipeline<DataTable, LinearRegressionResult> = {
  name: LINEAR_REGRESSION_JOB,

  decodeInput(bytes: Uint8Array): Result<DataTable, InvalidModelInputError> {
    const decoded = decodeTable(LINEAR_REGRESSION_JOB, bytes, PARAMETERS);
    return decoded.ok ? checkLinearRegressionInput(decoded.value) : decoded;
  },

  encodeInput: encodeTable,

  units: tableUnits,

  async run(models: PipelineModels, input: DataTable, options?: RunOptions): Promise<LinearRegressionResult> {
    const checked = checkLinearRegressionInput(input);
    if (!checked.ok) throw checked.error;
    const table = checked.value;
    const fit = fitLinearRegression(table);
    const n = table.rows.length;
    const d = fit.features.length;
    const x = new Float64Array(n * d);
    const y = new Float64Array(n);
    table.rows.forEach((row, i) => {
      fit.features.forEach((j, c) => (x[i * d + c] = row[j] as number));
      y[i] = row[fit.target] as number;
    });
    const origin = columnOrigin(x, n, d);
    const yOrigin = columnOrigin(y, n, 1)[0] as number;
    let shiftedIntercept = fit.intercept - yOrigin;
    for (let c = 0; c < d; c++) shiftedIntercept += (origin[c] as number) * (fit.coefficients[c] as number);
    const xFeed = shiftedFloat32(x, n, d, origin);
    const wFeed = Float32Array.from(fit.coefficients);
    const bFeed = Float32Array.of(shiftedIntercept);
    requireFiniteFeed(LINEAR_REGRESSION_JOB, 'a coefficient', wFeed);
    requireFiniteFeed(LINEAR_REGRESSION_JOB, 'the intercept', bFeed);
    const outputs = await models.main.run(
      {
        [LINEAR_REGRESSION_X]: float32Tensor(xFeed, [n, d]),
        [LINEAR_REGRESSION_W]: float32Tensor(wFeed, [d, 1]),
        [LINEAR_REGRESSION_B]: float32Tensor(bFeed, [1]),
      },
      options,
    );
    const out = outputs[LINEAR_REGRESSION_Y];
    if (out?.type !== 'float32' || out.data.length !== n) {
      throw new TypeError(`${LINEAR_REGRESSION_JOB} model must output float32 ${LINEAR_REGRESSION_Y}[${n}, 1]`);
    }
    requireFiniteFeed(LINEAR_REGRESSION_JOB, 'a prediction', out.data as Float32Array);
    const predictions = Array.from(out.data as Float32Array, (p) => yOrigin + p);
    let yMean = 0;
    for (const t of y) yMean += t;
    yMean /= n;
    let ssRes = 0;
    let ssTot = 0;
    predictions.forEach((p, i) => {
      ssRes += ((y[i] as number) - p) ** 2;
      ssTot += ((y[i] as number) - yMean) ** 2;
    });
    return {
      coefficients: Array.from(fit.coefficients),
      intercept: fit.intercept,
      predictions,
      rmse: Math.sqrt(ssRes / n),
      r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot,
    };
  },

  encodeOutput(output: LinearRegressionResult): Uint8Array {
    return encodeCanonical({
      coefficients: [...output.coefficients],
      intercept: output.intercept,
      predictions: [...output.predictions],
      rmse: output.rmse,
      r2: output.r2,
    });
  },

  decodeOutput(bytes: Uint8Array): Result<LinearRegressionResult, InvalidModelInputError> {
    return decodeOutputWith(LINEAR_REGRESSION_JOB, bytes, resultSchema);
  },

  /**
   * With max-abs tolerance t: every field (coefficients, intercept,
   * predictions, rmse, r²) within t × max(1, the field's largest magnitude),
   * see {@link closeLists}. Other measures mean nothing for regression and
   * demand exact equality.
   */
  agree(a: LinearRegressionResult, b: LinearRegressionResult, tolerance: Tolerance): boolean {
    const t = tolerance.measure === 'max-abs' ? tolerance.value : 0;
    return (
      closeLists(a.coefficients, b.coefficients, t) &&
      closeLists([a.intercept], [b.intercept], t) &&
      closeLists(a.predictions, b.predictions, t) &&
      closeLists([a.rmse], [b.rmse], t) &&
      closeLists([a.r2], [b.r2], t)
    );
  },
};
