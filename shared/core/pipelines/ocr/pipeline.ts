/**
 * OCR with PaddleOCR's PP-OCRv4 models: an RGB(A) image in, its text lines
 * out, each with its mean character confidence and its box, top to bottom and
 * left to right. Three ONNX models take part: the text detector (the entry's
 * main model), the direction classifier (asset `cls`) and the recogniser
 * (asset `rec`, whose classes are the key list, asset `keys`, between a CTC
 * blank and a space).
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '#core/encoding/canonical.ts';
import { text } from '#core/messages/fields.ts';
import { err, ok, type Result } from '#core/result.ts';
import type { Tolerance } from '#core/models/catalogue.ts';
import { InvalidModelInputError } from '#core/models/errors.ts';
import type { ModelPipeline, PipelineModels } from '#core/models/pipeline.ts';
import type { ModelSession, RunOptions } from '#core/models/runtime.ts';
import { float32Tensor, type Tensor } from '#core/models/tensor.ts';
import { boxesFromMap, detectionInput, detectionSize, type Box } from './detect.ts';
import {
  crop,
  decodeImage,
  encodeImage,
  MAX_IMAGE_SIDE,
  rotate180,
  toRgb,
  type RasterImage,
  type Rgb,
} from './image.ts';
import { CLASSIFIER, classifierInput, ctcDecode, parseKeys, RECOGNISER, recogniserInput } from './recognize.ts';

/** Asset roles of an OCR entry. */
export const OCR_ASSETS = { classifier: 'cls', recogniser: 'rec', keys: 'keys' } as const;
/** The most lines a result may hold (the detector considers at most 1000 regions). */
export const OCR_MAX_LINES = 1000;

export interface OcrLine {
  readonly text: string;
  /** Mean probability of the line's characters, rounded to 4 decimals. */
  readonly confidence: number;
  /** `[x0, y0, x1, y1]` in image pixels, `x1` and `y1` exclusive. */
  readonly box: Box;
}

export interface OcrResult {
  readonly lines: readonly OcrLine[];
}

const coordinate = v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(MAX_IMAGE_SIDE));
const resultSchema = v.strictObject({
  lines: v.pipe(
    v.array(
      v.strictObject({
        text: v.pipe(text(2048), v.minLength(1)),
        confidence: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
        box: v.pipe(
          v.tuple([coordinate, coordinate, coordinate, coordinate]),
          v.check(([x0, y0, x1, y1]) => x0 < x1 && y0 < y1, 'box must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1'),
        ),
      }),
    ),
    v.maxLength(OCR_MAX_LINES),
  ),
});

const keyCache = new WeakMap<Uint8Array, string[]>();

function classesOf(models: PipelineModels): string[] {
  const bytes = models.files[OCR_ASSETS.keys];
  if (!bytes) throw new TypeError(`OCR needs the key list (asset "${OCR_ASSETS.keys}")`);
  let classes = keyCache.get(bytes);
  if (!classes) {
    classes = parseKeys(bytes);
    keyCache.set(bytes, classes);
  }
  return classes;
}

function sessionOf(models: PipelineModels, role: string): ModelSession {
  const session = models.sessions[role];
  if (!session) throw new TypeError(`OCR needs the model of asset "${role}"`);
  return session;
}

/** Runs a single-input, single-output float model and checks the output's rank. */
async function runFloat(
  session: ModelSession,
  input: Tensor<'float32'>,
  rank: number,
  options?: RunOptions,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  if (inputName === undefined || outputName === undefined)
    throw new TypeError('OCR models have one input and one output');
  const output = (await session.run({ [inputName]: input }, options))[outputName];
  if (output?.type !== 'float32' || output.dims.length !== rank) {
    throw new TypeError(`OCR model output ${outputName} must be float32 of rank ${rank}`);
  }
  return { data: output.data as Float32Array, dims: output.dims };
}

async function detect(models: PipelineModels, image: Rgb, options?: RunOptions): Promise<Box[]> {
  const size = detectionSize(image.width, image.height);
  const input = float32Tensor(detectionInput(image, size), [1, 3, size.height, size.width]);
  const map = await runFloat(models.main, input, 4, options);
  if (map.dims[2] !== size.height || map.dims[3] !== size.width) {
    throw new TypeError(`OCR detector output is ${map.dims.join('x')}, expected 1x1x${size.height}x${size.width}`);
  }
  return boxesFromMap(map.data, size.width, size.height, image.width, image.height);
}

/** Turns the lines the direction classifier finds upside down. */
async function orient(models: PipelineModels, lines: Rgb[], options?: RunOptions): Promise<Rgb[]> {
  const session = sessionOf(models, OCR_ASSETS.classifier);
  const out: Rgb[] = [];
  for (let start = 0; start < lines.length; start += CLASSIFIER.batch) {
    const batch = lines.slice(start, start + CLASSIFIER.batch);
    const input = float32Tensor(classifierInput(batch), [batch.length, 3, CLASSIFIER.height, CLASSIFIER.width]);
    const probs = await runFloat(session, input, 2, options);
    if (probs.dims[0] !== batch.length || probs.dims[1] !== 2) {
      throw new TypeError(`OCR classifier output is ${probs.dims.join('x')}, expected ${batch.length}x2`);
    }
    batch.forEach((line, i) => {
      // Softmax over [0 degrees, 180 degrees]: turn only when clearly upside down.
      out.push((probs.data[i * 2 + 1] as number) > CLASSIFIER.threshold ? rotate180(line) : line);
    });
  }
  return out;
}

async function read(
  models: PipelineModels,
  line: Rgb,
  classes: readonly string[],
  options?: RunOptions,
): Promise<{ text: string; confidence: number }> {
  const input = recogniserInput(line);
  const tensor = float32Tensor(input.data, [1, 3, RECOGNISER.height, input.width]);
  const probs = await runFloat(sessionOf(models, OCR_ASSETS.recogniser), tensor, 3, options);
  const [, steps, width] = probs.dims;
  if (width !== classes.length || steps === undefined) {
    throw new TypeError(`OCR recogniser has ${width} classes, the key list gives ${classes.length}`);
  }
  return ctcDecode(probs.data, steps, classes);
}

export const ocrPipeline: ModelPipeline<RasterImage, OcrResult> = {
  name: 'ocr',
  sessionAssets: ['cls', 'rec'],

  decodeInput(bytes: Uint8Array): Result<RasterImage, InvalidModelInputError> {
    if (!(bytes instanceof Uint8Array)) return err(new InvalidModelInputError('OCR input must be bytes'));
    return decodeImage(bytes);
  },

  encodeInput(image: RasterImage): Uint8Array {
    return encodeImage(image);
  },

  units(): number {
    return 1;
  },

  async run(models: PipelineModels, image: RasterImage, options?: RunOptions): Promise<OcrResult> {
    const classes = classesOf(models);
    const rgb = toRgb(image);
    const boxes = await detect(models, rgb, options);
    const crops = await orient(
      models,
      boxes.map(([x0, y0, x1, y1]) => crop(rgb, x0, y0, x1, y1)),
      options,
    );
    const lines: OcrLine[] = [];
    for (const [i, box] of boxes.entries()) {
      const reading = await read(models, crops[i] as Rgb, classes, options);
      if (reading.confidence < RECOGNISER.dropScore || reading.text.trim() === '') continue;
      lines.push({ text: reading.text, confidence: Math.round(reading.confidence * 1e4) / 1e4, box });
    }
    return { lines };
  },

  encodeOutput(output: OcrResult): Uint8Array {
    return encodeCanonical({
      lines: output.lines.map((line) => ({ text: line.text, confidence: line.confidence, box: [...line.box] })),
    });
  },

  decodeOutput(bytes: Uint8Array): Result<OcrResult, InvalidModelInputError> {
    const decoded = decodeCanonical(bytes, { maxBytes: 4 * 1024 * 1024 });
    if (!decoded.ok) return err(new InvalidModelInputError(`OCR output: ${decoded.error.message}`));
    const parsed = v.safeParse(resultSchema, decoded.value, { abortEarly: true });
    if (!parsed.success) {
      return err(new InvalidModelInputError(`OCR output: ${parsed.issues.map((i) => i.message).join('; ')}`));
    }
    return ok(parsed.output);
  },

  /**
   * `text` (and `top1`): the same lines with the same texts, in the same
   * order; `max-abs`: that, and confidences within the value.
   */
  agree(a: OcrResult, b: OcrResult, tolerance: Tolerance): boolean {
    if (a.lines.length !== b.lines.length) return false;
    return a.lines.every((line, i) => {
      const other = b.lines[i];
      if (other?.text !== line.text) return false;
      return tolerance.measure !== 'max-abs' || Math.abs(line.confidence - other.confidence) <= tolerance.value;
    });
  },
};
