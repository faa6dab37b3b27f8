/**
 * The float64 linear algebra the data jobs fit with, in plain TypeScript:
 * least squares by Householder QR (with a tiny ridge when the columns are
 * dependent) and the symmetric eigen-decomposition by cyclic Jacobi. Only
 * + - × ÷ and Math.sqrt are used, which IEEE 754 fixes exactly, so every
 * JavaScript engine computes the same bits.
 */

/**
 * Below this ratio to the largest |R_jj| a diagonal entry of R counts as zero:
 * the (unit-norm) columns are then numerically dependent.
 */
export const QR_RANK_TOLERANCE = 1e-9;
/** The ridge added to the unit-norm columns' normal equations when they are dependent. */
export const RIDGE_LAMBDA = 1e-10;

export interface LeastSquaresSolution {
  /** The coefficients, one per column of the matrix. */
  readonly x: Float64Array;
  /**
   * 'qr' when the columns were independent; 'ridge' when some were not (or
   * there were fewer rows than columns) and the ridge system was solved.
   */
  readonly method: 'qr' | 'ridge';
}

/** sqrt(Σ x²) over a strided column, scaled so neither huge nor tiny values overflow or vanish. */
function columnNorm(a: Float64Array, rows: number, stride: number, offset: number): number {
  let max = 0;
  for (let i = 0; i < rows; i++) max = Math.max(max, Math.abs(a[i * stride + offset] as number));
  if (max === 0) return 0;
  let sum = 0;
  for (let i = 0; i < rows; i++) {
    const x = (a[i * stride + offset] as number) / max;
    sum += x * x;
  }
  return max * Math.sqrt(sum);
}

/**
 * Householder QR of the m × p matrix `a`, stored column by column
 * (overwritten), applying the same reflections to `b` (overwritten), then
 * back substitution. Returns undefined when m < p or R has a (relatively)
 * zero diagonal entry.
 */
function householderSolve(a: Float64Array, b: Float64Array, m: number, p: number): Float64Array | undefined {
  if (m < p) return undefined;
  const diagonal = new Float64Array(p);
  const columns = Array.from({ length: p }, (_, c) => a.subarray(c * m, (c + 1) * m));
  for (let j = 0; j < p; j++) {
    const v = columns[j] as Float64Array;
    // The column on and below the diagonal, scaled so the sum of squares cannot overflow.
    let max = 0;
    for (let i = j; i < m; i++) max = Math.max(max, Math.abs(v[i] as number));
    if (max === 0) continue;
    let sum = 0;
    for (let i = j; i < m; i++) {
      const x = (v[i] as number) / max;
      sum += x * x;
    }
    const norm = max * Math.sqrt(sum);
    const vjj = v[j] as number;
    const alpha = vjj > 0 ? -norm : norm;
    // The reflector is v − alpha·e_j (stored in place); its squared norm is 2·norm·(norm + |v_j|).
    v[j] = vjj - alpha;
    const vtv = 2 * norm * (norm + Math.abs(vjj));
    const reflect = (target: Float64Array): void => {
      let dot = 0;
      for (let i = j; i < m; i++) dot += (v[i] as number) * (target[i] as number);
      const f = (2 * dot) / vtv;
      if (f === 0) return;
      for (let i = j; i < m; i++) target[i] = (target[i] as number) - f * (v[i] as number);
    };
    for (let c = j + 1; c < p; c++) reflect(columns[c] as Float64Array);
    reflect(b);
    diagonal[j] = alpha;
  }
  const largest = diagonal.reduce((m0, x) => Math.max(m0, Math.abs(x)), 0);
  if (largest === 0 || diagonal.some((x) => !(Math.abs(x) > QR_RANK_TOLERANCE * largest))) return undefined;
  const x = new Float64Array(p);
  for (let j = p - 1; j >= 0; j--) {
    let s = b[j] as number;
    for (let c = j + 1; c < p; c++) s -= ((columns[c] as Float64Array)[j] as number) * (x[c] as number);
    x[j] = s / (diagonal[j] as number);
  }
  return x;
}

/**
 * Least squares min ‖A·x − b‖ for the n × d row-major matrix `a`: columns
 * are scaled to unit norm (all-zero columns get coefficient 0) and solved by
 * Householder QR; when the scaled columns are dependent (a diagonal entry of R
 * at most {@link QR_RANK_TOLERANCE} of the largest) or n < d, the ridge system
 * min ‖A·x − b‖² + λ‖x‖² (λ = {@link RIDGE_LAMBDA} on the unit-norm columns)
 * is solved instead, by the same QR of A stacked on √λ·I. Inputs are not
 * modified.
 */
export function leastSquares(a: Float64Array, b: Float64Array, n: number, d: number): LeastSquaresSolution {
  const scales = new Float64Array(d);
  const active: number[] = [];
  for (let j = 0; j < d; j++) {
    scales[j] = columnNorm(a, n, d, j);
    if ((scales[j] as number) > 0) active.push(j);
  }
  const p = active.length;
  const x = new Float64Array(d);
  if (p === 0) return { x, method: 'qr' };
  // The active columns scaled to unit norm, column by column, with `extraRows` zero rows below.
  const scaled = (extraRows: number): { readonly m: Float64Array; readonly rhs: Float64Array } => {
    const rows = n + extraRows;
    const m = new Float64Array(rows * p);
    active.forEach((j, c) => {
      const scale = scales[j] as number;
      for (let i = 0; i < n; i++) m[c * rows + i] = (a[i * d + j] as number) / scale;
    });
    const rhs = new Float64Array(rows);
    rhs.set(b.subarray(0, n));
    return { m, rhs };
  };
  let method: 'qr' | 'ridge' = 'qr';
  let z: Float64Array | undefined;
  {
    const { m, rhs } = scaled(0);
    z = householderSolve(m, rhs, n, p);
  }
  if (z === undefined) {
    method = 'ridge';
    const { m, rhs } = scaled(p);
    const root = Math.sqrt(RIDGE_LAMBDA);
    for (let c = 0; c < p; c++) m[c * (n + p) + n + c] = root;
    z = householderSolve(m, rhs, n + p, p);
    // Stacked on √λ·I the columns are independent; this cannot happen short of a bug.
    if (z === undefined) throw new Error('ridge least squares: dependent columns');
  }
  active.forEach((j, c) => {
    x[j] = (z[c] as number) / (scales[j] as number);
  });
  return { x, method };
}

/** Most Jacobi sweeps; a sweep of a 32 × 32 matrix is cheap and convergence is quadratic (~10 sweeps). */
export const JACOBI_MAX_SWEEPS = 100;

export interface EigenDecomposition {
  /** Eigenvalues, largest first (ties keep the order of the diagonal). */
  readonly values: Float64Array;
  /** Unit eigenvectors as rows, in the order of `values`. */
  readonly vectors: Float64Array[];
}

/**
 * Eigenvalues and eigenvectors of the symmetric d × d row-major matrix `s`
 * by cyclic Jacobi rotations, sorted largest first. Each eigenvector's sign is
 * fixed so that its largest-magnitude entry (the first of equal ones) is
 * positive. `s` is not modified.
 */
export function symmetricEigen(s: Float64Array, d: number): EigenDecomposition {
  const a = Float64Array.from(s);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let total = 0;
  for (const x of a) total += x * x;
  for (let sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += (a[p * d + q] as number) ** 2;
    if (off === 0 || off <= 1e-32 * total) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q] as number;
        if (apq === 0) continue;
        const theta = ((a[q * d + q] as number) - (a[p * d + p] as number)) / (2 * apq);
        // tan of the rotation angle, the smaller root of t² + 2θt − 1 = 0.
        const t =
          Math.abs(theta) > 1e150
            ? 0.5 / theta
            : (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p] as number;
          const akq = a[k * d + q] as number;
          a[k * d + p] = c * akp - sn * akq;
          a[k * d + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k] as number;
          const aqk = a[q * d + k] as number;
          a[p * d + k] = c * apk - sn * aqk;
          a[q * d + k] = sn * apk + c * aqk;
        }
        a[p * d + q] = 0;
        a[q * d + p] = 0;
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p] as number;
          const vkq = v[k * d + q] as number;
          v[k * d + p] = c * vkp - sn * vkq;
          v[k * d + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort(
    (i, j) => (a[j * d + j] as number) - (a[i * d + i] as number) || i - j,
  );
  const values = Float64Array.from(order, (i) => a[i * d + i] as number);
  const vectors = order.map((col) => {
    const vector = Float64Array.from({ length: d }, (_, k) => v[k * d + col] as number);
    let largest = 0;
    for (let k = 1; k < d; k++) if (Math.abs(vector[k] as number) > Math.abs(vector[largest] as number)) largest = k;
    if ((vector[largest] as number) < 0) for (let k = 0; k < d; k++) vector[k] = 0 - (vector[k] as number);
    return vector;
  });
  return { values, vectors };
}
