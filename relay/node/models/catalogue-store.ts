/**
 * The relay's model catalogue on disk: content-addressed files `<sha256>` and
 * `catalogue.json` in one directory. `addModel` is what
 * `npm run relay -- models add` and the operator API call: a file that is not
 * a loadable ONNX model, or an entry that does not validate, is refused with a
 * clear error and leaves the catalogue exactly as it was.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { sha256Hex } from '#core/encoding/bytes.ts';
import type { ModelId } from '#core/identity/ids.ts';
import {
  decodeCatalogue,
  decodeModelEntry,
  type Catalogue,
  type ModelEntry,
  type SizeClass,
  type Tolerance,
} from '#core/models/catalogue.ts';
import { InvalidModelError } from '#core/models/errors.ts';

/** The largest model file accepted: 1 GiB. */
export const MAX_MODEL_BYTES = 1024 * 1024 * 1024;
const TENSOR_TYPES = new Set(['float32', 'int32', 'int64', 'uint8']);

/** Reads a catalogue file in `dir` (default the operator's `catalogue.json`); a missing file is an empty catalogue. */
export async function readCatalogue(dir: string, file = 'catalogue.json'): Promise<Catalogue> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { v: 1, models: [] };
    throw error;
  }
  const decoded = decodeCatalogue(JSON.parse(text));
  if (!decoded.ok) throw new InvalidModelError(`${join(dir, file)} is invalid: ${decoded.error.message}`);
  return decoded.value;
}

/** File of the shipped models' catalogue in a relay's models directory (operator models are in catalogue.json). */
export const SHIPPED_CATALOGUE = 'shipped.json';

/** Everything a relay offers: the shipped models and those its operator added. */
export async function readRelayCatalogue(dir: string): Promise<Catalogue> {
  const [shipped, operator] = await Promise.all([readCatalogue(dir, SHIPPED_CATALOGUE), readCatalogue(dir)]);
  return { v: 1, models: [...shipped.models, ...operator.models] };
}

/** What an operator says about a model they add. */
export interface AddModelInit {
  readonly name: string;
  /** Default "1". */
  readonly version?: string;
  /** Default "An operator's model". */
  readonly description?: string;
  readonly pricePerUnit: number;
  /** Default "1 MB of input". */
  readonly unit?: string;
  /** Default "desktop". */
  readonly sizeClass?: SizeClass;
  /** Default max-abs 1e-4. */
  readonly tolerance?: Tolerance;
  readonly license: { readonly spdx: string; readonly source: string };
}

/**
 * Adds an ONNX model (run through the generic tensor pipeline) to the
 * catalogue in `dir`. Throws {@link InvalidModelError} and changes nothing
 * when the file or the entry is not acceptable.
 */
export async function addModel(dir: string, bytes: Uint8Array, init: AddModelInit): Promise<ModelEntry> {
  if (bytes.length === 0) throw new InvalidModelError('the model file is empty');
  if (bytes.length > MAX_MODEL_BYTES) throw new InvalidModelError(`the model file is over ${MAX_MODEL_BYTES} bytes`);
  const catalogue = await readCatalogue(dir);
  const id = sha256Hex(bytes) as ModelId;
  const existing = (await readRelayCatalogue(dir)).models.find((m) => m.id === id);
  if (existing)
    throw new InvalidModelError(`this file is already in the catalogue as ${existing.name} ${existing.version}`);

  const { inputs, outputs } = await inspectOnnx(bytes);
  const candidate = {
    id,
    name: init.name,
    version: init.version ?? '1',
    kind: 'tensor',
    description: init.description ?? "An operator's model",
    bytes: bytes.length,
    assets: [],
    inputs,
    outputs,
    pre: 'tensor',
    post: 'tensor',
    price: { perUnit: init.pricePerUnit, unit: init.unit ?? '1 MB of input' },
    sizeClass: init.sizeClass ?? 'desktop',
    tolerance: init.tolerance ?? { measure: 'max-abs', value: 1e-4 },
    license: init.license,
    metrics: {},
  };
  const entry = decodeModelEntry(candidate);
  if (!entry.ok) throw new InvalidModelError(`the catalogue entry is invalid: ${entry.error.message}`);

  await writeFile(join(dir, id), bytes);
  const next: Catalogue = { v: 1, models: [...catalogue.models, entry.value] };
  const tmp = join(dir, `catalogue.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(next, null, 2) + '\n');
  await rename(tmp, join(dir, 'catalogue.json'));
  return entry.value;
}

type TensorSpec = ModelEntry['inputs'][number];

/** Loads the bytes in onnxruntime-node and reads their input and output tensor specs. */
async function inspectOnnx(bytes: Uint8Array): Promise<{ inputs: TensorSpec[]; outputs: TensorSpec[] }> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new InvalidModelError(`not a loadable ONNX model: ${why ?? 'unknown error'}`);
  }
  try {
    const specs = (list: readonly ort.InferenceSession.ValueMetadata[], side: string): TensorSpec[] =>
      list.map((value) => {
        if (!value.isTensor) throw new InvalidModelError(`${side} ${value.name} is not a tensor`);
        if (!TENSOR_TYPES.has(value.type)) {
          throw new InvalidModelError(
            `${side} ${value.name} has type ${value.type}; supported: float32, int32, int64, uint8`,
          );
        }
        return {
          name: value.name,
          type: value.type as TensorSpec['type'],
          shape: value.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))),
        };
      });
    return { inputs: specs(session.inputMetadata, 'input'), outputs: specs(session.outputMetadata, 'output') };
  } finally {
    await session.release();
  }
}
