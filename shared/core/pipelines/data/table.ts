/**
 * The input of the data jobs (linear regression, k-means, PCA): a table of the
 * user's own numbers, canonically encoded (DAG-CBOR), plus the few parameters
 * of the job. Every pipeline checks the table against the same caps and
 * accepts only the parameters that mean something to it, so a parameter a
 * client thought would matter is refused rather than silently ignored.
 *
 * Also here: what the three pipelines share (the origin shift that keeps
 * float32 graphs precise, float32 feeds, tolerance checks).
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '#core/encoding/canonical.ts';
import { text } from '#core/messages/fields.ts';
import { err, ok, type Result } from '#core/result.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';

/** At most this many rows… */
export const DATA_MAX_ROWS = 10_000;
/** …of at most this many columns. */
export const DATA_MAX_COLUMNS = 32;
/**
 * Every value must be finite with |value| at most this: squares and sums of
 * squares then stay far inside float32 and float64 range.
 */
export const DATA_MAX_ABS_VALUE = 1e15;
/** The largest k of k-means. */
export const DATA_MAX_K = 64;
/** The cap on k-means iterations, and the default. */
export const DATA_MAX_ITERATIONS = 1000;
export const DATA_DEFAULT_ITERATIONS = 100;
/** Default k of k-means. */
export const DATA_DEFAULT_K = 2;
/** Default number of principal components (fewer when the table has fewer columns). */
export const DATA_DEFAULT_COMPONENTS = 2;
/** The largest encoded input: 10,000 × 32 float64 values at 9 bytes each plus framing fits with room. */
export const DATA_MAX_INPUT_BYTES = 4 * 1024 * 1024;
/** The largest encoded output (PCA's projection can be as large as the table). */
export const DATA_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
/** Rows per unit of work, as the catalogue prices them. */
export const DATA_ROWS_PER_UNIT = 100;

/** A table of numbers and the parameters of one data job. */
export interface DataTable {
  /** Column names, one per column (only for the user's reference). */
  readonly columns?: readonly string[];
  /** The rows, all of the same width, every value finite. */
  readonly rows: readonly (readonly number[])[];
  /** Linear regression: the index of the column to predict. Default the last column. */
  readonly target?: number;
  /** k-means: the number of clusters. Default {@link DATA_DEFAULT_K}. */
  readonly k?: number;
  /** PCA: the number of components kept. Default min({@link DATA_DEFAULT_COMPONENTS}, columns). */
  readonly components?: number;
  /** k-means: the most Lloyd iterations. Default {@link DATA_DEFAULT_ITERATIONS}. */
  readonly maxIterations?: number;
  /** k-means: the seed of the k-means++ initialisation, 0 to 2^32 - 1. Default 0. */
  readonly seed?: number;
}

export type DataParameter = 'target' | 'k' | 'components' | 'maxIterations' | 'seed';

const DATA_PARAMETERS: readonly DataParameter[] = ['target', 'k', 'components', 'maxIterations', 'seed'];
const columnName = text(64);

const invalid = (job: string, message: string): InvalidModelInputError =>
  new InvalidModelInputError(`${job} input: ${message}`);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const isIntegerIn = (x: unknown, min: number, max: number): x is number =>
  typeof x === 'number' && Number.isSafeInteger(x) && x >= min && x <= max;

/**
 * Checks a table for a job that takes the parameters `allowed`: shape, caps,
 * finite values, parameter ranges (those that depend on the job, such as k
 * against the number of rows, are the job's to check). Never throws.
 */
export function checkTable(
  job: string,
  value: unknown,
  allowed: readonly DataParameter[],
): Result<DataTable, InvalidModelInputError> {
  if (!isPlainObject(value)) return err(invalid(job, 'must be a map'));
  for (const key of Object.keys(value)) {
    if (key === 'rows' || key === 'columns') continue;
    if (!(DATA_PARAMETERS as readonly string[]).includes(key)) return err(invalid(job, `unknown field ${key}`));
    // (A decoded input never holds undefined; a table built in code may, and it means "absent".)
    if (value[key] === undefined) continue;
    if (!(allowed as readonly string[]).includes(key)) return err(invalid(job, `${key} does not apply to ${job}`));
  }
  const rows = value.rows;
  if (!Array.isArray(rows)) return err(invalid(job, 'rows must be an array of rows'));
  if (rows.length === 0) return err(invalid(job, 'rows is empty'));
  if (rows.length > DATA_MAX_ROWS) return err(invalid(job, `${rows.length} rows, the cap is ${DATA_MAX_ROWS}`));
  const first: unknown = rows[0];
  if (!Array.isArray(first)) return err(invalid(job, 'row 0 is not an array'));
  const width = first.length;
  if (width === 0) return err(invalid(job, 'rows have no columns'));
  if (width > DATA_MAX_COLUMNS) return err(invalid(job, `${width} columns, the cap is ${DATA_MAX_COLUMNS}`));
  for (let i = 0; i < rows.length; i++) {
    const row: unknown = rows[i];
    if (!Array.isArray(row)) return err(invalid(job, `row ${i} is not an array`));
    if (row.length !== width) return err(invalid(job, `row ${i} has ${row.length} values, row 0 has ${width}`));
    for (let j = 0; j < width; j++) {
      const x: unknown = row[j];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        return err(invalid(job, `rows[${i}][${j}] is not a finite number`));
      }
      if (Math.abs(x) > DATA_MAX_ABS_VALUE) {
        return err(invalid(job, `rows[${i}][${j}] is larger in magnitude than ${DATA_MAX_ABS_VALUE}`));
      }
    }
  }
  const columns = value.columns;
  if (columns !== undefined) {
    if (!Array.isArray(columns) || columns.length !== width) {
      return err(invalid(job, `columns must name each of the ${width} columns`));
    }
    if (!columns.every((name) => v.is(columnName, name))) {
      return err(invalid(job, 'column names must be text of at most 64 characters'));
    }
  }
  const { target, k, components, maxIterations, seed } = value;
  if (target !== undefined && !isIntegerIn(target, 0, width - 1)) {
    return err(invalid(job, `target must be a column index from 0 to ${width - 1}`));
  }
  if (k !== undefined && !isIntegerIn(k, 1, DATA_MAX_K)) return err(invalid(job, `k must be 1 to ${DATA_MAX_K}`));
  if (components !== undefined && !isIntegerIn(components, 1, width)) {
    return err(invalid(job, `components must be 1 to ${width} (the number of columns)`));
  }
  if (maxIterations !== undefined && !isIntegerIn(maxIterations, 1, DATA_MAX_ITERATIONS)) {
    return err(invalid(job, `maxIterations must be 1 to ${DATA_MAX_ITERATIONS}`));
  }
  if (seed !== undefined && !isIntegerIn(seed, 0, 0xffff_ffff)) {
    return err(invalid(job, 'seed must be an integer from 0 to 2^32 - 1'));
  }
  return ok(value as unknown as DataTable);
}

/** Decodes and checks a job's input bytes. Never throws. */
export function decodeTable(
  job: string,
  bytes: Uint8Array,
  allowed: readonly DataParameter[],
): Result<DataTable, InvalidModelInputError> {
  const decoded = decodeCanonical(bytes, { maxBytes: DATA_MAX_INPUT_BYTES });
  if (!decoded.ok) return err(invalid(job, decoded.error.message));
  return checkTable(job, decoded.value, allowed);
}

/** The canonical bytes of a table (fields left undefined are left out). */
export function encodeTable(table: DataTable): Uint8Array {
  const out: Record<string, unknown> = { rows: table.rows.map((row) => [...row]) };
  if (table.columns !== undefined) out.columns = [...table.columns];
  for (const key of DATA_PARAMETERS) if (table[key] !== undefined) out[key] = table[key];
  return encodeCanonical(out);
}

/** Units of work: one per {@link DATA_ROWS_PER_UNIT} rows, at least one. */
export function tableUnits(table: DataTable): number {
  return Math.max(1, Math.ceil(table.rows.length / DATA_ROWS_PER_UNIT));
}

/** The table as one row-major float64 matrix. */
export function toMatrix(rows: readonly (readonly number[])[]): Float64Array {
  const width = rows[0]?.length ?? 0;
  const out = new Float64Array(rows.length * width);
  rows.forEach((row, i) => {
    out.set(row, i * width);
  });
  return out;
}

/**
 * The per-column origin the pipelines shift the data to before it becomes
 * float32: the lower median of each column (a value of the data). float32
 * then carries the spread of a column to 7 digits whatever its offset (Unix
 * timestamps in ms lose whole minutes in float32, their differences from a
 * median do not). The graphs compute the same function in shifted
 * coordinates; see each pipeline for how the shift is undone.
 */
export function columnOrigin(x: Float64Array, n: number, d: number): Float64Array {
  const origin = new Float64Array(d);
  const column = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) column[i] = x[i * d + j] as number;
    column.sort();
    origin[j] = column[(n - 1) >> 1] as number;
  }
  return origin;
}

/** Rows of `x` (n × d) minus `origin`, as float32. */
export function shiftedFloat32(x: Float64Array, n: number, d: number, origin: Float64Array): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = (x[i * d + j] as number) - (origin[j] as number);
  }
  return out;
}

/**
 * Checks that a float32 feed holds only finite values (a float64 value beyond
 * float32's range becomes Infinity); throws {@link InvalidModelInputError}
 * naming the job otherwise.
 */
export function requireFiniteFeed(job: string, what: string, data: Float32Array): void {
  for (const x of data) {
    if (!Number.isFinite(x)) throw invalid(job, `${what} does not fit in float32: the data is too ill-conditioned`);
  }
}

/** The largest absolute value in a list (0 for an empty list). */
export function maxAbs(values: Iterable<number>): number {
  let max = 0;
  for (const x of values) max = Math.max(max, Math.abs(x));
  return max;
}

/**
 * Two lists of numbers agree within `tolerance` when they have the same
 * length and every difference is at most `tolerance × max(1, largest |value|
 * of either list)`: an absolute tolerance for values up to 1, relative to the
 * list's scale above that (float32 results carry ~7 significant digits of the
 * largest value in a sum, whatever the user's units).
 */
export function closeLists(a: readonly number[], b: readonly number[], tolerance: number): boolean {
  if (a.length !== b.length) return false;
  const bound = tolerance * Math.max(1, maxAbs(a), maxAbs(b));
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs((a[i] as number) - (b[i] as number)) <= bound)) return false;
  }
  return true;
}

/** {@link closeLists} over a matrix given as rows; the scale is the whole matrix's. */
export function closeMatrices(
  a: readonly (readonly number[])[],
  b: readonly (readonly number[])[],
  tolerance: number,
): boolean {
  if (a.length !== b.length || a.some((row, i) => row.length !== b[i]?.length)) return false;
  return closeLists(a.flat(), b.flat(), tolerance);
}

/** Schemas of output fields: finite numbers, lists and matrices of them. */
export const finite = v.pipe(v.number(), v.finite());
export const finiteList = (max: number) => v.pipe(v.array(finite), v.maxLength(max));
export const finiteMatrix = (maxRows: number, maxColumns: number) =>
  v.pipe(v.array(finiteList(maxColumns)), v.maxLength(maxRows));

/** Decodes an output with `schema`. Never throws. */
export function decodeOutputWith<S extends v.GenericSchema>(
  job: string,
  bytes: Uint8Array,
  schema: S,
): Result<v.InferOutput<S>, InvalidModelInputError> {
  const decoded = decodeCanonical(bytes, { maxBytes: DATA_MAX_OUTPUT_BYTES });
  if (!decoded.ok) return err(new InvalidModelInputError(`${job} output: ${decoded.error.message}`));
  try {
    const parsed = v.safeParse(schema, decoded.value, { abortEarly: true });
    if (parsed.success) return ok(parsed.output);
    return err(new InvalidModelInputError(`${job} output: ${parsed.issues.map((i) => i.message).join('; ')}`));
  } catch (cause) {
    return err(new InvalidModelInputError(`${job} output: ${cause instanceof Error ? cause.message : 'unreadable'}`));
  }
}
