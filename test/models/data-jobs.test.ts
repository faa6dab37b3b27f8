/**
 * Data jobs (linear regression, k-means, PCA): on every runtime of the
 * platform each pipeline agrees, within its catalogue tolerance, with the
 * reference results stored in fixtures/data-jobs.json (written by
 * fixtures/generate-data-jobs.ts in onnxruntime-node); each also agrees with
 * an independent computation done here by another method on data whose answer
 * is known (closed forms, generating coefficients and clusters, power
 * iteration, axes fixed by construction); bad input is refused with
 * InvalidModelInputError.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import type { ModelEntry, ModelKind } from '#core/models/catalogue.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import {
  DATA_MAX_COLUMNS,
  DATA_MAX_ROWS,
  KMEANS_C,
  KMEANS_DISTANCES,
  KMEANS_LABELS,
  KMEANS_X,
  kmeansPipeline,
  linearRegressionPipeline,
  pcaPipeline,
  type DataTable,
  type KMeansResult,
  type LinearRegressionResult,
  type PcaResult,
} from '#core/pipelines/data/index.ts';
import { modelFile, modelOfKind, platformRuntimes } from '#test/models.ts';
import fixtures from './fixtures/data-jobs.json';

interface Fixture<O> {
  readonly name: string;
  readonly input: DataTable;
  readonly output: O;
}
type RegressionFixture = Fixture<LinearRegressionResult> & {
  readonly generator?: { readonly coefficients: readonly number[]; readonly intercept: number; readonly noise: number };
};
type KMeansFixture = Fixture<KMeansResult> & { readonly blobs?: readonly number[] };

const regressionFixtures = fixtures.linearRegression as readonly RegressionFixture[];
const kmeansFixtures = fixtures.kmeans as readonly KMeansFixture[];
const pcaFixtures = fixtures.pca as readonly Fixture<PcaResult>[];

type Job = 'linear-regression' | 'kmeans' | 'pca';
const JOBS: readonly Job[] = ['linear-regression', 'kmeans', 'pca'];

let runtimes: InferenceRuntime[];
const entries = new Map<Job, { readonly entry: ModelEntry; readonly bytes: Uint8Array }>();

beforeAll(async () => {
  runtimes = await platformRuntimes();
  for (const job of JOBS) {
    const entry = await modelOfKind(job satisfies ModelKind);
    entries.set(job, { entry, bytes: await modelFile(entry.id) });
  }
});

function entryOf(job: Job): ModelEntry {
  const found = entries.get(job);
  if (!found) throw new Error(`no ${job} model loaded`);
  return found.entry;
}

/** Loads a job's model in `runtime`, hands it to `use`, releases it. */
async function withModels<T>(runtime: InferenceRuntime, job: Job, use: (models: PipelineModels) => Promise<T>) {
  const found = entries.get(job);
  if (!found) throw new Error(`no ${job} model loaded`);
  const main = await runtime.load(found.bytes, found.entry.id);
  try {
    return await use({ main, sessions: {}, files: {} });
  } finally {
    await main.release();
  }
}

/** Runs a job as a worker does: input bytes in, canonical output bytes out, decoded again. */
async function runJob<O>(pipeline: ModelPipeline<DataTable, O>, models: PipelineModels, input: DataTable): Promise<O> {
  const decoded = pipeline.decodeInput(pipeline.encodeInput(input));
  if (!decoded.ok) throw decoded.error;
  const bytes = pipeline.encodeOutput(await pipeline.run(models, decoded.value));
  const output = pipeline.decodeOutput(bytes);
  if (!output.ok) throw output.error;
  return output.value;
}

/** Runs a job on the first runtime of the platform. */
const runOnce = <O>(job: Job, pipeline: ModelPipeline<DataTable, O>, input: DataTable): Promise<O> =>
  withModels(runtimes[0] as InferenceRuntime, job, (models) => runJob(pipeline, models, input));

/** A reproducible stream in [0, 1) for data made here (a 32-bit LCG). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const relativeError = (a: number, b: number): number => Math.abs(a - b) / Math.max(1e-300, Math.abs(a), Math.abs(b));
const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0);
const column = (rows: readonly (readonly number[])[], j: number): number[] => rows.map((r) => r[j] as number);
const meanOf = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Any value's canonical bytes (for inputs and outputs encodeInput/encodeOutput would never write). */
const encodeValue = (value: unknown): Uint8Array => encodeCanonical(value);

describe('data job catalogue entries', () => {
  it('are phone-sized, MIT, priced per 100 rows, with the documented tolerances', () => {
    const pipelines = { 'linear-regression': linearRegressionPipeline, kmeans: kmeansPipeline, pca: pcaPipeline };
    for (const job of JOBS) {
      const entry = entryOf(job);
      expect(entry.kind).toBe(job);
      expect(entry.sizeClass).toBe('phone');
      expect(entry.price).toEqual({ perUnit: 1, unit: '100 rows' });
      expect(entry.license).toEqual({ spdx: 'MIT', source: 'built by relay/node/models/builders/data-jobs.ts' });
      expect(entry.pre).toBe(pipelines[job].name);
      expect(entry.post).toBe(pipelines[job].name);
    }
    expect(entryOf('linear-regression').tolerance).toEqual({ measure: 'max-abs', value: 1e-4 });
    expect(entryOf('kmeans').tolerance).toEqual({ measure: 'top1' });
    expect(entryOf('pca').tolerance).toEqual({ measure: 'max-abs', value: 1e-4 });
  });

  it('are the graphs the stored references were computed with (else rerun fixtures/generate-data-jobs.ts)', () => {
    for (const job of JOBS) expect(entryOf(job).id, job).toBe(fixtures.models[job]);
  });

  it('count one unit per 100 rows', () => {
    const rows = (n: number): DataTable => ({ rows: Array.from({ length: n }, (_, i) => [i, 2 * i]) });
    for (const pipeline of [linearRegressionPipeline, kmeansPipeline, pcaPipeline]) {
      expect([1, 100, 101, 250, DATA_MAX_ROWS].map((n) => pipeline.units(rows(n)))).toEqual([1, 1, 2, 3, 100]);
    }
  });
});

describe('data jobs on every platform runtime agree with the stored references', () => {
  it('linear regression', async () => {
    const tolerance = entryOf('linear-regression').tolerance;
    for (const runtime of runtimes) {
      await withModels(runtime, 'linear-regression', async (models) => {
        for (const fixture of regressionFixtures) {
          const result = await runJob(linearRegressionPipeline, models, fixture.input);
          expect(
            linearRegressionPipeline.agree(result, fixture.output, tolerance),
            `${runtime.name}: ${fixture.name}`,
          ).toBe(true);
        }
      });
    }
  });

  it('k-means', async () => {
    const tolerance = entryOf('kmeans').tolerance;
    for (const runtime of runtimes) {
      await withModels(runtime, 'kmeans', async (models) => {
        for (const fixture of kmeansFixtures) {
          const result = await runJob(kmeansPipeline, models, fixture.input);
          expect(result.labels, `${runtime.name}: ${fixture.name}`).toEqual(fixture.output.labels);
          expect(kmeansPipeline.agree(result, fixture.output, tolerance), `${runtime.name}: ${fixture.name}`).toBe(
            true,
          );
        }
      });
    }
  });

  it('PCA', async () => {
    const tolerance = entryOf('pca').tolerance;
    for (const runtime of runtimes) {
      await withModels(runtime, 'pca', async (models) => {
        for (const fixture of pcaFixtures) {
          const result = await runJob(pcaPipeline, models, fixture.input);
          expect(pcaPipeline.agree(result, fixture.output, tolerance), `${runtime.name}: ${fixture.name}`).toBe(true);
        }
      });
    }
  });

  it('agree() is not vacuous: a changed result is refused', () => {
    const [regression] = regressionFixtures;
    const [kmeans] = kmeansFixtures;
    const [pca] = pcaFixtures;
    if (!regression || !kmeans || !pca) throw new Error('empty fixtures');
    const r = regression.output;
    const rTolerance = entryOf('linear-regression').tolerance;
    expect(linearRegressionPipeline.agree(r, r, rTolerance)).toBe(true);
    const shifted = { ...r, predictions: r.predictions.map((p, i) => (i === 3 ? p + 0.01 : p)) };
    expect(linearRegressionPipeline.agree(r, shifted, rTolerance)).toBe(false);
    expect(linearRegressionPipeline.agree(r, { ...r, r2: r.r2 - 0.001 }, rTolerance)).toBe(false);

    const k = kmeans.output;
    const kTolerance = entryOf('kmeans').tolerance;
    expect(kmeansPipeline.agree(k, k, kTolerance)).toBe(true);
    const relabelled = { ...k, labels: k.labels.map((label, i) => (i === 0 ? (label + 1) % 3 : label)) };
    expect(kmeansPipeline.agree(k, relabelled, kTolerance)).toBe(false);
    expect(kmeansPipeline.agree(k, { ...k, inertia: k.inertia * 1.001 }, kTolerance)).toBe(false);

    const p = pca.output;
    const pTolerance = entryOf('pca').tolerance;
    expect(pcaPipeline.agree(p, p, pTolerance)).toBe(true);
    const flipped = { ...p, components: p.components.map((c, i) => (i === 0 ? c.map((x) => -x) : c)) };
    expect(pcaPipeline.agree(p, flipped, pTolerance)).toBe(false);
  });
});

describe('linear regression against independent computations', () => {
  /** The least-squares line through (x, y) by the closed form slope = Sxy / Sxx. */
  function closedFormLine(x: readonly number[], y: readonly number[]): { slope: number; intercept: number } {
    const mx = meanOf(x);
    const my = meanOf(y);
    let sxy = 0;
    let sxx = 0;
    x.forEach((xi, i) => {
      sxy += (xi - mx) * ((y[i] as number) - my);
      sxx += (xi - mx) ** 2;
    });
    const slope = sxy / sxx;
    return { slope, intercept: my - slope * mx };
  }

  /** Least squares with two features and an intercept: the centred 2 × 2 normal equations by Cramer's rule. */
  function cramer2(x1: readonly number[], x2: readonly number[], y: readonly number[]) {
    const [m1, m2, my] = [meanOf(x1), meanOf(x2), meanOf(y)];
    let s11 = 0;
    let s12 = 0;
    let s22 = 0;
    let s1y = 0;
    let s2y = 0;
    x1.forEach((a, i) => {
      const u = a - m1;
      const w = (x2[i] as number) - m2;
      const t = (y[i] as number) - my;
      s11 += u * u;
      s12 += u * w;
      s22 += w * w;
      s1y += u * t;
      s2y += w * t;
    });
    const det = s11 * s22 - s12 * s12;
    const b1 = (s1y * s22 - s12 * s2y) / det;
    const b2 = (s11 * s2y - s12 * s1y) / det;
    return { coefficients: [b1, b2], intercept: my - b1 * m1 - b2 * m2 };
  }

  it('one feature: the closed-form line, its predictions and rmse', async () => {
    const random = lcg(5);
    const rows = Array.from({ length: 50 }, (_, i) => [i / 10, 1.25 * (i / 10) - 4 + (random() - 0.5) * 0.02]);
    const result = await runOnce('linear-regression', linearRegressionPipeline, { rows });
    const x = column(rows, 0);
    const y = column(rows, 1);
    const line = closedFormLine(x, y);
    expect(relativeError(result.coefficients[0] as number, line.slope)).toBeLessThan(1e-12);
    expect(Math.abs(result.intercept - line.intercept)).toBeLessThan(1e-12);
    const expected = x.map((xi) => line.intercept + line.slope * xi);
    result.predictions.forEach((p, i) => {
      expect(Math.abs(p - (expected[i] as number))).toBeLessThan(1e-5);
    });
    const rmse = Math.sqrt(meanOf(y.map((yi, i) => (yi - (expected[i] as number)) ** 2)));
    expect(Math.abs(result.rmse - rmse)).toBeLessThan(1e-6);
    expect(Math.abs((result.coefficients[0] as number) - 1.25)).toBeLessThan(1e-3);
  });

  it('two features: Cramer’s rule on the normal equations and the generating coefficients', () => {
    const fixture = regressionFixtures.find((f) => f.name === 'two features, small noise');
    if (!fixture?.generator) throw new Error('fixture missing');
    const rows = fixture.input.rows;
    const exact = cramer2(column(rows, 0), column(rows, 1), column(rows, 2));
    const fitted = fixture.output;
    fitted.coefficients.forEach((c, j) => {
      expect(relativeError(c, exact.coefficients[j] as number)).toBeLessThan(1e-10);
    });
    expect(Math.abs(fitted.intercept - exact.intercept)).toBeLessThan(1e-10);
    fixture.generator.coefficients.forEach((c, j) => {
      expect(Math.abs((fitted.coefficients[j] as number) - c)).toBeLessThan(0.02);
    });
    expect(Math.abs(fitted.intercept - fixture.generator.intercept)).toBeLessThan(0.05);
    // The residuals are the generating noise: rmse near its standard deviation.
    expect(fitted.rmse).toBeGreaterThan(fixture.generator.noise * 0.7);
    expect(fitted.rmse).toBeLessThan(fixture.generator.noise * 1.3);
  });

  it('millisecond timestamps keep their precision: rmse is the generating noise, not float32 rounding', () => {
    const fixture = regressionFixtures.find((f) => f.name === 'millisecond timestamps');
    if (!fixture?.generator) throw new Error('fixture missing');
    const rows = fixture.input.rows;
    const line = closedFormLine(column(rows, 0), column(rows, 1));
    expect(relativeError(fixture.output.coefficients[0] as number, line.slope)).toBeLessThan(1e-9);
    expect(relativeError(fixture.output.coefficients[0] as number, 2e-6)).toBeLessThan(1e-3);
    expect(fixture.output.rmse).toBeLessThan(fixture.generator.noise * 1.3);
    expect(fixture.output.r2).toBeGreaterThan(0.9999);
  });

  it('dependent features: the same fit as without the redundant column', () => {
    const fixture = regressionFixtures.find((f) => f.name === 'dependent features, target in the middle');
    if (!fixture) throw new Error('fixture missing');
    const rows = fixture.input.rows;
    // Column 2 is 2 × column 0, so the fit spans what columns 0 and 3 span.
    const reduced = cramer2(column(rows, 0), column(rows, 3), column(rows, 1));
    const [w0, w2, w3] = fixture.output.coefficients as [number, number, number];
    expect(Math.abs(w0 + 2 * w2 - (reduced.coefficients[0] as number))).toBeLessThan(1e-6);
    expect(Math.abs(w3 - (reduced.coefficients[1] as number))).toBeLessThan(1e-6);
    rows.forEach((row, i) => {
      const expected = reduced.intercept + dot(reduced.coefficients, [row[0] as number, row[3] as number]);
      expect(Math.abs((fixture.output.predictions[i] as number) - expected)).toBeLessThan(1e-4);
    });
  });
});

describe('k-means against independent computations', () => {
  const squared = (a: readonly number[], b: readonly number[]): number =>
    a.reduce((s, x, j) => s + (x - (b[j] as number)) ** 2, 0);

  /** Inertia, nearest-centre labels and centres-as-means, all computed directly. */
  function checkConsistent(rows: readonly (readonly number[])[], result: KMeansResult): void {
    const direct = rows.reduce(
      (s, row, i) => s + squared(row, result.centres[result.labels[i] as number] as number[]),
      0,
    );
    expect(relativeError(result.inertia, direct) < 1e-12 || direct === result.inertia).toBe(true);
    rows.forEach((row, i) => {
      const own = squared(row, result.centres[result.labels[i] as number] as number[]);
      const best = Math.min(...result.centres.map((c) => squared(row, c)));
      expect(own - best).toBeLessThanOrEqual(1e-6 * Math.max(1, best));
    });
    result.centres.forEach((centre, c) => {
      const members = rows.filter((_, i) => result.labels[i] === c);
      if (members.length === 0) return;
      centre.forEach((x, j) => {
        expect(Math.abs(x - meanOf(column(members, j)))).toBeLessThan(1e-9 * Math.max(1, Math.abs(x)));
      });
    });
  }

  /** True when `labels` and `truth` partition the rows the same way (labels up to renaming). */
  function samePartition(labels: readonly number[], truth: readonly number[]): boolean {
    const forward = new Map<number, number>();
    const backward = new Map<number, number>();
    return labels.every((label, i) => {
      const t = truth[i] as number;
      if ((forward.get(label) ?? t) !== t || (backward.get(t) ?? label) !== label) return false;
      forward.set(label, t);
      backward.set(t, label);
      return true;
    });
  }

  it('the assignment graph outputs squared distances and the first nearest centre, on every runtime', async () => {
    const x = [
      [0, 0],
      [1, 2],
      [-3, 0.5],
      [2, 1],
    ];
    // The last row is as far from centres 0 and 1: ArgMin takes the first.
    const c = [
      [1, 1],
      [3, 1],
      [-3, 0],
    ];
    for (const runtime of runtimes) {
      await withModels(runtime, 'kmeans', async (models) => {
        const outputs = await models.main.run({
          [KMEANS_X]: float32Tensor(Float32Array.from(x.flat()), [4, 2]),
          [KMEANS_C]: float32Tensor(Float32Array.from(c.flat()), [3, 2]),
        });
        const distances = Array.from(outputs[KMEANS_DISTANCES]?.data as Float32Array);
        expect(distances).toEqual(x.flatMap((row) => c.map((centre) => squared(row, centre))));
        expect(Array.from(outputs[KMEANS_LABELS]?.data as BigInt64Array, Number)).toEqual([0, 0, 2, 0]);
      });
    }
  });

  it('every stored result: inertia, labels and centres match a direct computation', () => {
    for (const fixture of kmeansFixtures) checkConsistent(fixture.input.rows, fixture.output);
  });

  it('separated blobs in the fixture are recovered up to label permutation', () => {
    const fixture = kmeansFixtures.find((f) => f.blobs !== undefined);
    if (!fixture?.blobs) throw new Error('fixture missing');
    expect(samePartition(fixture.output.labels, fixture.blobs)).toBe(true);
  });

  it('five well-separated 5-D blobs are recovered from any seed', async () => {
    const random = lcg(9);
    const centres = Array.from({ length: 5 }, (_, b) =>
      Array.from({ length: 5 }, (_, j) => (j === b % 5 ? 40 : 0) + b * 3),
    );
    const truth: number[] = [];
    const rows = Array.from({ length: 250 }, () => {
      const blob = Math.floor(random() * 5);
      truth.push(blob);
      return (centres[blob] as number[]).map((c) => c + (random() - 0.5) * 4);
    });
    const runtime = runtimes[0] as InferenceRuntime;
    await withModels(runtime, 'kmeans', async (models) => {
      for (const seed of [0, 1, 2, 3]) {
        const result = await runJob(kmeansPipeline, models, { rows, k: 5, seed });
        checkConsistent(rows, result);
        // Recovering the blobs is the global optimum here; k-means++ finds it on well-separated data.
        expect(samePartition(result.labels, truth), `seed ${seed}`).toBe(true);
      }
    });
  });

  it('stops at maxIterations and still returns nearest-centre labels', async () => {
    const fixture = kmeansFixtures.find((f) => f.name.startsWith('one diffuse cloud'));
    if (!fixture) throw new Error('fixture missing');
    expect(fixture.output.iterations).toBeGreaterThan(2);
    const result = await runOnce('kmeans', kmeansPipeline, { ...fixture.input, maxIterations: 2 });
    expect(result.iterations).toBe(2);
    const rows = fixture.input.rows;
    rows.forEach((row, i) => {
      const own = squared(row, result.centres[result.labels[i] as number] as number[]);
      expect(own - Math.min(...result.centres.map((c) => squared(row, c)))).toBeLessThanOrEqual(
        1e-6 * Math.max(1, own),
      );
    });
  });
});

describe('PCA against independent computations', () => {
  function covarianceOf(rows: readonly (readonly number[])[]): number[][] {
    const d = rows[0]?.length ?? 0;
    const means = Array.from({ length: d }, (_, j) => meanOf(column(rows, j)));
    return Array.from({ length: d }, (_, p) =>
      Array.from(
        { length: d },
        (_, q) =>
          rows.reduce(
            (s, r) => s + ((r[p] as number) - (means[p] as number)) * ((r[q] as number) - (means[q] as number)),
            0,
          ) /
          (rows.length - 1),
      ),
    );
  }

  /** The top `m` eigenpairs of a symmetric matrix by power iteration with deflation. */
  function powerIteration(matrix: readonly (readonly number[])[], m: number): { value: number; vector: number[] }[] {
    const a = matrix.map((row) => [...row]);
    const d = a.length;
    const pairs: { value: number; vector: number[] }[] = [];
    for (let c = 0; c < m; c++) {
      let v = Array.from({ length: d }, (_, j) => 1 + j / d);
      let value = 0;
      for (let iteration = 0; iteration < 5000; iteration++) {
        const w = a.map((row) => dot(row, v));
        const norm = Math.sqrt(dot(w, w));
        if (norm === 0) break;
        const next = w.map((x) => x / norm);
        const change = Math.min(
          next.reduce((s, x, j) => s + (x - (v[j] as number)) ** 2, 0),
          next.reduce((s, x, j) => s + (x + (v[j] as number)) ** 2, 0),
        );
        v = next;
        value = dot(
          v,
          a.map((row) => dot(row, v)),
        );
        if (change < 1e-26) break;
      }
      pairs.push({ value, vector: v });
      for (let p = 0; p < d; p++)
        for (let q = 0; q < d; q++) {
          const row = a[p] as number[];
          row[q] = (row[q] as number) - value * (v[p] as number) * (v[q] as number);
        }
    }
    return pairs;
  }

  function checkProjection(rows: readonly (readonly number[])[], result: PcaResult, tolerance: number): void {
    rows.forEach((row, i) => {
      const centred = row.map((x, j) => x - (result.mean[j] as number));
      result.components.forEach((component, c) => {
        expect(Math.abs(((result.projected[i] as number[])[c] as number) - dot(centred, component))).toBeLessThan(
          tolerance,
        );
      });
    });
  }

  it('matches power iteration on the covariance, and projects as (X − mean)·V', () => {
    for (const fixture of pcaFixtures) {
      const rows = fixture.input.rows;
      const result = fixture.output;
      // Only well-separated eigenvalues converge under power iteration; compare the leading three at most.
      const m = Math.min(3, result.components.length);
      const pairs = powerIteration(covarianceOf(rows), m);
      pairs.forEach((pair, c) => {
        expect(relativeError(result.explainedVariance[c] as number, pair.value), fixture.name).toBeLessThan(1e-8);
        expect(Math.abs(Math.abs(dot(result.components[c] as number[], pair.vector)) - 1), fixture.name).toBeLessThan(
          1e-8,
        );
      });
      const total = covarianceOf(rows).reduce((s, row, j) => s + (row[j] as number), 0);
      result.explainedVarianceRatio.forEach((ratio, c) => {
        expect(Math.abs(ratio - (result.explainedVariance[c] as number) / total)).toBeLessThan(1e-12);
      });
      // Orthonormal components, each with its largest-magnitude entry positive.
      result.components.forEach((a, p) => {
        result.components.forEach((b, q) => {
          expect(Math.abs(dot(a, b) - (p === q ? 1 : 0))).toBeLessThan(1e-12);
        });
        const largest = a.reduce((best, x, j) => (Math.abs(x) > Math.abs(a[best] as number) ? j : best), 0);
        expect(a[largest]).toBeGreaterThan(0);
      });
      checkProjection(rows, result, 1e-4);
    }
  });

  it('finds the axes of data built along known orthonormal directions, on every runtime', async () => {
    // Rows at ±a·u and ±a/2·u along three orthonormal u (in 4-D, about a large offset): the covariance
    // is Σ (2a² + a²/2)·u·uᵀ / (n − 1) exactly, so its eigenvectors are the u.
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const axes = [
      [c * 0.6, c * 0.8, s, 0],
      [0.8, -0.6, 0, 0],
      [-s * 0.6, -s * 0.8, c, 0],
    ];
    const lengths = [6, 2, 0.5];
    const offset = [1e6, -300, 12, 5];
    const rows: number[][] = [];
    axes.forEach((axis, a) => {
      for (const k of [1, -1, 0.5, -0.5])
        rows.push(axis.map((u, j) => (offset[j] as number) + k * (lengths[a] as number) * u));
    });
    const variances = lengths.map((a) => (2.5 * a * a) / (rows.length - 1));
    for (const runtime of runtimes) {
      const result = await withModels(runtime, 'pca', (models) => runJob(pcaPipeline, models, { rows, components: 3 }));
      result.components.forEach((component, k) => {
        const axis = axes[k] as number[];
        // The pipeline signs each component by its largest entry; the axes are signed that way too.
        component.forEach((x, j) => {
          expect(Math.abs(x - (axis[j] as number)), runtime.name).toBeLessThan(1e-9);
        });
        expect(relativeError(result.explainedVariance[k] as number, variances[k] as number)).toBeLessThan(1e-9);
      });
      const total = variances.reduce((a, b) => a + b, 0);
      result.explainedVarianceRatio.forEach((r, k) => {
        expect(Math.abs(r - (variances[k] as number) / total)).toBeLessThan(1e-9);
      });
      checkProjection(rows, result, 1e-4);
    }
  });
});

describe('data jobs refuse bad input with InvalidModelInputError', () => {
  const pipelines = [linearRegressionPipeline, kmeansPipeline, pcaPipeline] as const;
  const good: DataTable = {
    rows: [
      [1, 2, 3],
      [4, 5, 6.5],
      [7, 8.25, 9],
    ],
  };

  function expectRefused(pipeline: ModelPipeline<DataTable, unknown>, bytes: Uint8Array, why: string): void {
    const decoded = pipeline.decodeInput(bytes);
    expect(decoded.ok, `${pipeline.name}: ${why}`).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error, `${pipeline.name}: ${why}`).toBeInstanceOf(InvalidModelInputError);
    expect(decoded.error.code).toBe('invalid-model-input');
  }

  /** The canonical bytes of `good` with its 6.5 (a float64) replaced by `float64Hex`. */
  function withFloat(float64Hex: string): Uint8Array {
    const bytes = linearRegressionPipeline.encodeInput(good);
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    const patched = hex.replace('fb401a000000000000', `fb${float64Hex}`);
    expect(patched).not.toBe(hex);
    return Uint8Array.from(patched.match(/../g) ?? [], (h) => parseInt(h, 16));
  }

  it('accepts the good table', () => {
    for (const pipeline of pipelines) expect(pipeline.decodeInput(pipeline.encodeInput(good)).ok).toBe(true);
  });

  it('NaN and infinities (as the bytes would carry them)', () => {
    for (const pipeline of pipelines) {
      expectRefused(pipeline, withFloat('7ff8000000000000'), 'NaN');
      expectRefused(pipeline, withFloat('7ff0000000000000'), '+Infinity');
      expectRefused(pipeline, withFloat('fff0000000000000'), '-Infinity');
    }
  });

  it('malformed shapes, caps and parameters', () => {
    const cases: [string, unknown][] = [
      ['ragged rows', { rows: [[1, 2], [3]] }],
      ['no rows', { rows: [] }],
      ['empty rows', { rows: [[], []] }],
      ['a string value', { rows: [[1, '2']] }],
      ['too many rows', { rows: Array.from({ length: DATA_MAX_ROWS + 1 }, (_, i) => [i, 1]) }],
      ['too many columns', { rows: [Array.from({ length: DATA_MAX_COLUMNS + 1 }, (_, j) => j)] }],
      [
        'a value beyond 1e15',
        {
          rows: [
            [1, 2],
            [3, 2e15],
          ],
        },
      ],
      [
        'column names of the wrong count',
        {
          columns: ['a'],
          rows: [
            [1, 2],
            [3, 4],
          ],
        },
      ],
      [
        'an unknown field',
        {
          rows: [
            [1, 2],
            [3, 4],
          ],
          weights: [1, 1],
        },
      ],
      ['rows not an array', { rows: { 0: [1] } }],
      ['not a map', [[1, 2]]],
    ];
    for (const pipeline of pipelines) {
      for (const [why, value] of cases) {
        // Encoded directly: encodeInput would not produce most of these.
        expectRefused(pipeline, encodeValue(value), why);
      }
    }
  });

  it('parameters out of range or meant for another job', () => {
    const rows = good.rows;
    const regression: [string, unknown][] = [
      ['target out of range', { rows, target: 3 }],
      ['negative target', { rows, target: -1 }],
      ['k for regression', { rows, k: 2 }],
      ['a single column', { rows: [[1], [2]] }],
      ['a single row', { rows: [[1, 2]] }],
    ];
    const kmeans: [string, unknown][] = [
      ['k > rows', { rows, k: 4 }],
      ['k = 0', { rows, k: 0 }],
      ['k not an integer', { rows, k: 1.5 }],
      ['maxIterations = 0', { rows, maxIterations: 0 }],
      ['negative seed', { rows, seed: -1 }],
      ['seed beyond 32 bits', { rows, seed: 2 ** 32 }],
      ['target for k-means', { rows, target: 0 }],
    ];
    const pca: [string, unknown][] = [
      ['components > columns', { rows, components: 4 }],
      ['components = 0', { rows, components: 0 }],
      ['a single row', { rows: [[1, 2]] }],
      ['seed for PCA', { rows, seed: 1 }],
    ];
    for (const [why, value] of regression) expectRefused(linearRegressionPipeline, encodeValue(value), why);
    for (const [why, value] of kmeans) expectRefused(kmeansPipeline, encodeValue(value), why);
    for (const [why, value] of pca) expectRefused(pcaPipeline, encodeValue(value), why);
  });

  it('bytes that are not the canonical encoding', () => {
    for (const pipeline of pipelines) {
      const bytes = pipeline.encodeInput(good);
      expectRefused(pipeline, Uint8Array.of(...bytes, 0), 'trailing byte');
      expectRefused(pipeline, bytes.subarray(0, bytes.length - 3), 'truncated');
      expectRefused(pipeline, new Uint8Array(0), 'empty');
    }
  });

  it('run() refuses an unchecked table the same way', async () => {
    const runtime = runtimes[0] as InferenceRuntime;
    const bad: [ModelPipeline<DataTable, unknown>, Job, DataTable][] = [
      [
        linearRegressionPipeline,
        'linear-regression',
        {
          rows: [
            [1, NaN],
            [2, 3],
          ],
        },
      ],
      [linearRegressionPipeline, 'linear-regression', { rows: good.rows, target: 7 }],
      [kmeansPipeline, 'kmeans', { rows: good.rows, k: 9 }],
      [kmeansPipeline, 'kmeans', { rows: [[1, 2], [3]] }],
      [
        pcaPipeline,
        'pca',
        {
          rows: [
            [Infinity, 1],
            [1, 1],
          ],
        },
      ],
    ];
    for (const [pipeline, job, table] of bad) {
      await withModels(runtime, job, async (models) => {
        await expect(pipeline.run(models, table)).rejects.toBeInstanceOf(InvalidModelInputError);
      });
    }
  });

  it('outputs that do not decode as results are refused', () => {
    const [r] = regressionFixtures;
    const [k] = kmeansFixtures;
    const [p] = pcaFixtures;
    if (!r || !k || !p) throw new Error('empty fixtures');
    expect(linearRegressionPipeline.decodeOutput(encodeValue({ ...r.output, rmse: -1 })).ok).toBe(false);
    expect(kmeansPipeline.decodeOutput(encodeValue({ ...k.output, labels: [...k.output.labels, 7] })).ok).toBe(false);
    expect(pcaPipeline.decodeOutput(encodeValue({ ...p.output, mean: [...p.output.mean, 1] })).ok).toBe(false);
    for (const [pipeline, output] of [
      [linearRegressionPipeline, r.output],
      [kmeansPipeline, k.output],
      [pcaPipeline, p.output],
    ] as const) {
      const decoded = (pipeline as ModelPipeline<DataTable, unknown>).decodeOutput(
        (pipeline as ModelPipeline<DataTable, unknown>).encodeOutput(output),
      );
      expect(decoded.ok).toBe(true);
    }
  });
});

describe('the largest table (10,000 × 32) runs on every platform runtime', () => {
  it('all three jobs', async () => {
    const random = lcg(77);
    const centres = Array.from({ length: 4 }, () => Array.from({ length: DATA_MAX_COLUMNS }, () => random() * 100));
    const rows = Array.from({ length: DATA_MAX_ROWS }, (_, i) =>
      (centres[i % 4] as number[]).map((c) => c + random() * 2 - 1),
    );
    // The input bytes (~2.8 MiB) decode within the caps; the runs then take the decoded table.
    const decoded = pcaPipeline.decodeInput(pcaPipeline.encodeInput({ rows, components: DATA_MAX_COLUMNS }));
    if (!decoded.ok) throw decoded.error;
    const table = decoded.value;
    for (const runtime of runtimes) {
      const regression = await withModels(runtime, 'linear-regression', (m) =>
        linearRegressionPipeline.run(m, { rows: table.rows }),
      );
      expect(regression.predictions).toHaveLength(DATA_MAX_ROWS);
      // k·d = 128 values per row: the assignment graph runs on two chunks of rows.
      const kmeans = await withModels(runtime, 'kmeans', (m) => kmeansPipeline.run(m, { rows: table.rows, k: 4 }));
      expect(new Set(kmeans.labels).size).toBe(4);
      const pca = await withModels(runtime, 'pca', (m) => pcaPipeline.run(m, table));
      expect(pca.projected).toHaveLength(DATA_MAX_ROWS);
      expect(pca.projected[0]).toHaveLength(DATA_MAX_COLUMNS);
      if (runtime === runtimes[0]) expect(pcaPipeline.decodeOutput(pcaPipeline.encodeOutput(pca)).ok).toBe(true);
    }
  });
});
