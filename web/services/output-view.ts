/**
 * A task's result, decoded for people: a label with its probability, the
 * detected language, the OCR text lines, regression coefficients, clusters,
 * principal components. The bytes are decoded and checked by the model's own
 * pipeline, so what is shown is exactly what the receipt's hash covers.
 */
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { ClassificationResult } from '#core/pipelines/classification.ts';
import type { KMeansResult } from '#core/pipelines/data/kmeans.ts';
import type { LinearRegressionResult } from '#core/pipelines/data/linear-regression.ts';
import type { PcaResult } from '#core/pipelines/data/pca.ts';
import type { OcrResult } from '#core/pipelines/ocr/pipeline.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';

export interface RankedLabel {
  readonly label: string;
  readonly probability: number;
}

/** What the output of a data job refers to: the input table's column names and target column. */
export interface TableNames {
  readonly columns?: readonly string[] | undefined;
  readonly target?: number | undefined;
}

export type OutputView =
  | { readonly kind: 'classification'; readonly heading: string; readonly top: readonly RankedLabel[] }
  | {
      readonly kind: 'text-lines';
      readonly lines: readonly { readonly text: string; readonly confidence: number }[];
    }
  | {
      readonly kind: 'regression';
      readonly coefficients: readonly { readonly name: string; readonly value: number }[];
      readonly intercept: number;
      readonly rmse: number;
      readonly r2: number;
    }
  | {
      readonly kind: 'clusters';
      readonly clusters: readonly { readonly centre: readonly number[]; readonly rows: number }[];
      readonly inertia: number;
      readonly iterations: number;
    }
  | {
      readonly kind: 'components';
      readonly components: readonly { readonly vector: readonly number[]; readonly share: number }[];
    }
  | { readonly kind: 'raw'; readonly bytes: number }
  | { readonly kind: 'invalid'; readonly message: string };

const languageNames = (() => {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' });
  } catch {
    return undefined;
  }
})();

/** The English name of an ISO 639-3 code lande reports (falls back to the code). */
export function languageName(code: string): string {
  // Intl knows the 2-letter codes best; the few lande uses that differ are mapped here.
  const special: Record<string, string> = { cmn: 'zh', pes: 'fa', nob: 'nb', ckb: 'ckb', run: 'rn' };
  const tag = special[code] ?? code;
  try {
    const name = languageNames?.of(tag);
    return name !== undefined && name !== tag ? name : code;
  } catch {
    return code;
  }
}

/**
 * Decodes `bytes` as the output of `entry` into a view. Never throws: bytes
 * the pipeline refuses give an `invalid` view with the reason.
 * `table`: the names of the input table's columns and its target column, when known.
 */
export function outputViewOf(entry: ModelEntry, bytes: Uint8Array, table: TableNames = {}): OutputView {
  const pipeline = pipelineFor(entry.post);
  if (!pipeline) return { kind: 'raw', bytes: bytes.length };
  const decoded = pipeline.decodeOutput(bytes);
  if (!decoded.ok) return { kind: 'invalid', message: decoded.error.message };
  return viewOf(entry, decoded.value, table);
}

/** The view of an output the pipeline has already decoded (a local run's result). */
export function viewOf(entry: ModelEntry, output: unknown, table: TableNames = {}): OutputView {
  switch (entry.post) {
    case 'language-id': {
      const result = output as ClassificationResult<string>;
      return {
        kind: 'classification',
        heading: 'Detected language',
        top: result.top.map((c) => ({ label: `${languageName(c.label)} (${c.label})`, probability: c.p })),
      };
    }
    case 'clothing': {
      const result = output as ClassificationResult<string>;
      return {
        kind: 'classification',
        heading: 'This looks like',
        top: result.top.map((c) => ({ label: c.label, probability: c.p })),
      };
    }
    case 'ocr': {
      const result = output as OcrResult;
      return { kind: 'text-lines', lines: result.lines.map((l) => ({ text: l.text, confidence: l.confidence })) };
    }
    case 'linear-regression': {
      const result = output as LinearRegressionResult;
      // The features are every column but the target, in table order; the target is the last by default.
      const target = table.target ?? (table.columns ? table.columns.length - 1 : -1);
      const names = table.columns?.filter((_, i) => i !== target);
      return {
        kind: 'regression',
        coefficients: result.coefficients.map((value, i) => ({ name: names?.[i] ?? `x${i + 1}`, value })),
        intercept: result.intercept,
        rmse: result.rmse,
        r2: result.r2,
      };
    }
    case 'kmeans': {
      const result = output as KMeansResult;
      return {
        kind: 'clusters',
        clusters: result.centres.map((centre, c) => ({
          centre,
          rows: result.labels.filter((l) => l === c).length,
        })),
        inertia: result.inertia,
        iterations: result.iterations,
      };
    }
    case 'pca': {
      const result = output as PcaResult;
      return {
        kind: 'components',
        components: result.components.map((vector, i) => ({
          vector,
          share: result.explainedVarianceRatio[i] ?? 0,
        })),
      };
    }
    default:
      return { kind: 'raw', bytes: 0 };
  }
}
