/**
 * What the Run screen asks for, per catalogue entry: text (language id), a
 * photo (clothing, OCR) or a table of numbers (regression, k-means, PCA); and
 * turning what the user gave into the pipeline's input, its bytes and its
 * price (the relay escrows the same `quoteTask` of it).
 */
import type { ModelEntry } from '#core/models/catalogue.ts';
import { quoteTask } from '#core/models/pricing.ts';
import type { ModelPipeline } from '#core/models/pipeline.ts';
import type { Raster } from '#core/pipelines/image.ts';
import { pipelineFor } from '#core/pipelines/registry.ts';
import type { DataTable } from '#core/pipelines/data/table.ts';

export type InputKind = 'text' | 'image' | 'table' | 'unsupported';

/** The input form of each pipeline (ModelEntry.pre). */
const KIND_BY_PIPELINE: Readonly<Record<string, InputKind>> = {
  'language-id': 'text',
  clothing: 'image',
  ocr: 'image',
  'linear-regression': 'table',
  kmeans: 'table',
  pca: 'table',
};

/** The input form an entry needs; `unsupported` for raw tensor models and pipelines this app does not know. */
export function inputKindOf(entry: ModelEntry): InputKind {
  return pipelineFor(entry.pre) === undefined ? 'unsupported' : (KIND_BY_PIPELINE[entry.pre] ?? 'unsupported');
}

/**
 * The longest side photos are scaled down to before they are sent: the
 * clothing classifier looks at 28×28 pixels, so 256 keeps the upload small;
 * OCR reads characters from the full image (its detector works at 960).
 */
export function imageMaxSide(entry: ModelEntry): number {
  return entry.pre === 'ocr' ? 1280 : 256;
}

/** What the user entered for one task, before it becomes the pipeline's input. */
export type UserInput =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'image'; readonly image: Raster<3> }
  | { readonly kind: 'table'; readonly table: DataTable };

/** A task ready to be priced and sent: the pipeline's input, its bytes and its price. */
export interface PreparedInput {
  readonly pipeline: ModelPipeline<unknown, unknown>;
  /** The pipeline's input (what runs locally). */
  readonly value: unknown;
  /** The task's input bytes (what is hashed, signed and sent). */
  readonly bytes: Uint8Array;
  readonly units: number;
  /** The most the task may cost: the catalogue price of its units. */
  readonly maxPrice: number;
}

/** Error for an input the pipeline refuses; `message` says what to fix. */
export class InvalidTaskInputError extends Error {
  override readonly name = 'InvalidTaskInputError';
  readonly code = 'invalid-model-input';
}

/**
 * Encodes the user's input for `entry`, checks it by decoding the bytes again
 * with the pipeline (the same check the relay makes), and prices it.
 */
export function prepareInput(entry: ModelEntry, input: UserInput): PreparedInput {
  const pipeline = pipelineFor(entry.pre);
  if (!pipeline) throw new InvalidTaskInputError(`This app cannot build input for ${entry.name}.`);
  const raw = input.kind === 'text' ? input.text : input.kind === 'image' ? input.image : input.table;
  let bytes: Uint8Array;
  try {
    bytes = pipeline.encodeInput(raw);
  } catch (error) {
    throw new InvalidTaskInputError(error instanceof Error ? error.message : String(error));
  }
  const decoded = pipeline.decodeInput(bytes);
  if (!decoded.ok) throw new InvalidTaskInputError(decoded.error.message);
  const quoted = quoteTask(entry, pipeline, decoded.value);
  if (!quoted.ok) throw new InvalidTaskInputError(quoted.error.message);
  return { pipeline, value: decoded.value, bytes, units: quoted.value.units, maxPrice: quoted.value.price };
}

const SEPARATOR = /[\s,;]+/;

/**
 * Reads a table of numbers typed or pasted by the user: one row per line,
 * values separated by commas, semicolons, tabs or spaces; a first line with
 * any non-number is taken as the column names. Throws
 * {@link InvalidTaskInputError} naming the line of a bad value.
 */
export function parseTable(text: string): { readonly columns: string[] | undefined; readonly rows: number[][] } {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  let columns: string[] | undefined;
  const first = lines[0];
  if (first?.split(SEPARATOR).some((cell) => !isNumber(cell))) {
    columns = first.split(/\s*[,;\t]\s*|\s+/).filter((c) => c !== '');
    lines.shift();
  }
  const rows = lines.map((line, i) =>
    line.split(SEPARATOR).map((cell) => {
      if (!isNumber(cell)) {
        throw new InvalidTaskInputError(`Row ${i + 1}: "${cell}" is not a number.`);
      }
      return Number(cell);
    }),
  );
  if (rows.length === 0) throw new InvalidTaskInputError('Enter at least one row of numbers.');
  return { columns, rows };
}

function isNumber(cell: string): boolean {
  return cell !== '' && Number.isFinite(Number(cell));
}

/** An example table per data job, so the form is never empty. */
export const EXAMPLE_TABLES: Readonly<Record<string, string>> = {
  'linear-regression': 'size, rooms, price\n50, 2, 150\n70, 3, 205\n90, 3, 260\n110, 4, 320\n130, 5, 370',
  kmeans: 'x, y\n1, 1\n1.5, 2\n1, 1.8\n8, 8\n9, 9.5\n8.5, 9',
  pca: 'a, b, c\n2.5, 2.4, 1\n0.5, 0.7, 0\n2.2, 2.9, 1\n1.9, 2.2, 1\n3.1, 3.0, 2\n2.3, 2.7, 1',
};
