/**
 * k-means on the user's table: k-means++ initialisation from a seeded random
 * stream, then Lloyd iterations whose assignment step (squared distances of
 * every row to every centre and the nearest centre) is the ONNX graph and
 * whose update step (each centre the mean of its rows) is float64 here. It
 * stops when an assignment changes no label, or after maxIterations; a run
 * that did not converge ends with one more assignment, so the labels returned
 * are always those of the nearest returned centre. A centre that loses all its
 * rows stays where it was.
 *
 * The graph sees the rows and centres shifted by the per-column medians
 * ({@link columnOrigin}), which leaves distances unchanged, and is run on
 * chunks of rows so that its [rows, k, d] differences stay within
 * {@link KMEANS_CHUNK_ELEMENTS} values. Inertia is computed here in float64
 * from the labels, so two runs with the same labels report the same inertia.
 */
import * as v from 'valibot';
import { concatBytes, sha256 } from '#core/encoding/bytes.ts';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import { err, ok, type Result } from '#core/result.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import type { RunOptions } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import {
  DATA_DEFAULT_ITERATIONS,
  DATA_DEFAULT_K,
  DATA_MAX_COLUMNS,
  DATA_MAX_ITERATIONS,
  DATA_MAX_K,
  DATA_MAX_ROWS,
  checkTable,
  closeMatrices,
  columnOrigin,
  decodeOutputWith,
  decodeTable,
  encodeTable,
  finite,
  finiteMatrix,
  shiftedFloat32,
  tableUnits,
  toMatrix,
  type DataParameter,
  type DataTable,
} from './table.ts';

export const KMEANS_JOB = 'kmeans';
/** Graph inputs X float32 [n, d], C float32 [k, d]; outputs distances float32 [n, k], labels int64 [n]. */
export const KMEANS_X = 'X';
export const KMEANS_C = 'C';
export const KMEANS_DISTANCES = 'distances';
export const KMEANS_LABELS = 'labels';
/** The most float32 values of the graph's [rows, k, d] differences per run (4 MiB). */
export const KMEANS_CHUNK_ELEMENTS = 1 << 20;
/**
 * The relative tolerance on centres and inertia when the catalogue's measure
 * is 'top1' (labels equal); a 'max-abs' tolerance gives its own value.
 */
export const KMEANS_FLOAT_TOLERANCE = 1e-4;

const PARAMETERS: readonly DataParameter[] = ['k', 'maxIterations', 'seed'];

export interface KMeansResult {
  /** k centres of d values, in the order of the labels. */
  readonly centres: readonly (readonly number[])[];
  /** For each row, the index of its (nearest) centre. */
  readonly labels: readonly number[];
  /** Sum over rows of the squared distance to their centre. */
  readonly inertia: number;
  /** Assignment steps run, counting the one that found no change when the run converged. */
  readonly iterations: number;
}

const invalid = (message: string): InvalidModelInputError =>
  new InvalidModelInputError(`${KMEANS_JOB} input: ${message}`);

/** Checks a table for k-means: k (default {@link DATA_DEFAULT_K}) at most the number of rows. */
export function checkKMeansInput(value: unknown): Result<DataTable, InvalidModelInputError> {
  const checked = checkTable(KMEANS_JOB, value, PARAMETERS);
  if (!checked.ok) return checked;
  const table = checked.value;
  const k = table.k ?? DATA_DEFAULT_K;
  if (k > table.rows.length) return err(invalid(`k = ${k} is more than the ${table.rows.length} rows`));
  return ok(table);
}

const RANDOM_DOMAIN = new TextEncoder().encode('acn/data/kmeans++/v1');

/**
 * The `index`-th number of the random stream of `seed`, uniform in [0, 1):
 * the first 48 bits of SHA-256(domain ‖ seed ‖ index) over 2^48. Every
 * platform draws the same numbers.
 */
export function seededUniform(seed: number, index: number): number {
  const counter = new Uint8Array(8);
  const view = new DataView(counter.buffer);
  view.setUint32(0, seed >>> 0);
  view.setUint32(4, index >>> 0);
  const digest = sha256(concatBytes(RANDOM_DOMAIN, counter));
  let x = 0;
  for (let i = 0; i < 6; i++) x = x * 256 + (digest[i] as number);
  return x / 2 ** 48;
}

function squaredDistance(x: Float64Array, i: number, centres: Float64Array, c: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const diff = (x[i * d + j] as number) - (centres[c * d + j] as number);
    s += diff * diff;
  }
  return s;
}

/**
 * k-means++: the first centre a uniformly drawn row, each next one a row drawn
 * with probability proportional to its squared distance to the nearest centre
 * chosen so far (when every row sits on a chosen centre, the first row not yet
 * chosen). Returns k × d row-major centres.
 */
export function kmeansPlusPlus(x: Float64Array, n: number, d: number, k: number, seed: number): Float64Array {
  const centres = new Float64Array(k * d);
  const chosen = new Set<number>();
  const take = (row: number, c: number): void => {
    chosen.add(row);
    for (let j = 0; j < d; j++) centres[c * d + j] = x[row * d + j] as number;
  };
  take(Math.min(n - 1, Math.floor(seededUniform(seed, 0) * n)), 0);
  const nearest = new Float64Array(n);
  for (let i = 0; i < n; i++) nearest[i] = squaredDistance(x, i, centres, 0, d);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (const s of nearest) total += s;
    let row = -1;
    if (total > 0) {
      const target = seededUniform(seed, c) * total;
      let cumulative = 0;
      for (let i = 0; i < n; i++) {
        const s = nearest[i] as number;
        if (s === 0) continue;
        row = i;
        cumulative += s;
        if (cumulative > target) break;
      }
    } else {
      for (let i = 0; i < n && row < 0; i++) if (!chosen.has(i)) row = i;
    }
    take(row, c);
    for (let i = 0; i < n; i++) nearest[i] = Math.min(nearest[i] as number, squaredDistance(x, i, centres, c, d));
  }
  return centres;
}

/** Each centre the mean of its rows; a centre without rows keeps its place. */
function updateCentres(
  x: Float64Array,
  n: number,
  d: number,
  labels: Int32Array,
  previous: Float64Array,
): Float64Array {
  const k = previous.length / d;
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const c = labels[i] as number;
    counts[c] = (counts[c] as number) + 1;
    for (let j = 0; j < d; j++) sums[c * d + j] = (sums[c * d + j] as number) + (x[i * d + j] as number);
  }
  for (let c = 0; c < k; c++) {
    const count = counts[c] as number;
    for (let j = 0; j < d; j++) {
      sums[c * d + j] = count === 0 ? (previous[c * d + j] as number) : (sums[c * d + j] as number) / count;
    }
  }
  return sums;
}

const sameLabels = (a: Int32Array, b: Int32Array): boolean => a.every((x, i) => x === b[i]);

const resultSchema = v.pipe(
  v.strictObject({
    centres: v.pipe(finiteMatrix(DATA_MAX_K, DATA_MAX_COLUMNS), v.minLength(1)),
    labels: v.pipe(
      v.array(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(DATA_MAX_K - 1))),
      v.minLength(1),
      v.maxLength(DATA_MAX_ROWS),
    ),
    inertia: v.pipe(finite, v.minValue(0)),
    iterations: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(DATA_MAX_ITERATIONS)),
  }),
  v.check(
    (r) =>
      r.centres.every((c) => c.length > 0 && c.length === r.centres[0]?.length) &&
      r.labels.every((label) => label < r.centres.length),
    'centres must have one width and every label must name a centre',
  ),
);

export const kmeansPipeline: ModelPipeline<DataTable, KMeansResult> = {
  name: KMEANS_JOB,

  decodeInput(bytes: Uint8Array): Result<DataTable, InvalidModelInputError> {
    const decoded = decodeTable(KMEANS_JOB, bytes, PARAMETERS);
    return decoded.ok ? checkKMeansInput(decoded.value) : decoded;
  },

  encodeInput: encodeTable,

  units: tableUnits,

  async run(models: PipelineModels, input: DataTable, options?: RunOptions): Promise<KMeansResult> {
    const checked = checkKMeansInput(input);
    if (!checked.ok) throw checked.error;
    const table = checked.value;
    const n = table.rows.length;
    const d = table.rows[0]?.length ?? 0;
    const k = table.k ?? DATA_DEFAULT_K;
    const maxIterations = table.maxIterations ?? DATA_DEFAULT_ITERATIONS;
    const x = toMatrix(table.rows);
    const origin = columnOrigin(x, n, d);
    const xFeed = shiftedFloat32(x, n, d, origin);
    const chunk = Math.max(1, Math.floor(KMEANS_CHUNK_ELEMENTS / (k * d)));

    const assign = async (centres: Float64Array): Promise<Int32Array> => {
      const cFeed = float32Tensor(shiftedFloat32(centres, k, d, origin), [k, d]);
      const labels = new Int32Array(n);
      for (let start = 0; start < n; start += chunk) {
        const rows = Math.min(chunk, n - start);
        const outputs = await models.main.run(
          { [KMEANS_X]: float32Tensor(xFeed.subarray(start * d, (start + rows) * d), [rows, d]), [KMEANS_C]: cFeed },
          options,
        );
        const out = outputs[KMEANS_LABELS];
        if (out?.type !== 'int64' || out.data.length !== rows) {
          throw new TypeError(`${KMEANS_JOB} model must output int64 ${KMEANS_LABELS}[${rows}]`);
        }
        (out.data as BigInt64Array).forEach((label, i) => {
          if (label < 0n || label >= BigInt(k)) throw new TypeError(`${KMEANS_JOB} model output label ${label}`);
          labels[start + i] = Number(label);
        });
      }
      return labels;
    };

    let centres = kmeansPlusPlus(x, n, d, k, table.seed ?? 0);
    let labels: Int32Array | undefined;
    let iterations = 0;
    let converged = false;
    while (iterations < maxIterations) {
      const next = await assign(centres);
      iterations++;
      if (labels !== undefined && sameLabels(labels, next)) {
        converged = true;
        break;
      }
      labels = next;
      centres = updateCentres(x, n, d, labels, centres);
    }
    if (!converged || labels === undefined) labels = await assign(centres);
    let inertia = 0;
    for (let i = 0; i < n; i++) inertia += squaredDistance(x, i, centres, labels[i] as number, d);
    return {
      centres: Array.from({ length: k }, (_, c) => Array.from(centres.subarray(c * d, (c + 1) * d))),
      labels: Array.from(labels),
      inertia,
      iterations,
    };
  },

  encodeOutput(output: KMeansResult): Uint8Array {
    return encodeCanonical({
      centres: output.centres.map((c) => [...c]),
      labels: [...output.labels],
      inertia: output.inertia,
      iterations: output.iterations,
    });
  },

  decodeOutput(bytes: Uint8Array): Result<KMeansResult, InvalidModelInputError> {
    return decodeOutputWith(KMEANS_JOB, bytes, resultSchema);
  },

  /**
   * Labels must be equal, one by one. Centres must agree within t × max(1,
   * largest |centre value|) and inertia within t relative, where t is
   * {@link KMEANS_FLOAT_TOLERANCE} for 'top1' (the catalogue's measure), the
   * tolerance's value for 'max-abs', and 0 for 'text'. Iterations are not
   * compared.
   */
  agree(a: KMeansResult, b: KMeansResult, tolerance: Tolerance): boolean {
    const t =
      tolerance.measure === 'max-abs' ? tolerance.value : tolerance.measure === 'top1' ? KMEANS_FLOAT_TOLERANCE : 0;
    return (
      a.labels.length === b.labels.length &&
      a.labels.every((label, i) => label === b.labels[i]) &&
      closeMatrices(a.centres, b.centres, t) &&
      Math.abs(a.inertia - b.inertia) <= t * Math.max(Math.abs(a.inertia), Math.abs(b.inertia))
    );
  },
};
