/**
 * OCR (PaddleOCR PP-OCRv4): on every runtime of the platform the pipeline
 * reads the fixture image (text drawn in Chromium, test/models/fixtures/
 * make-ocr.ts) exactly, upright and turned by 180 degrees, and agrees with
 * the stored reference; in Chromium it also reads the same text drawn live on
 * a canvas. Input and output decoding refuse malformed bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import { fromBase64Url } from '#core/encoding/bytes.ts';
import type { ModelEntry } from '#core/models/catalogue.ts';
import type { PipelineModels } from '#core/models/pipeline.ts';
import type { InferenceRuntime } from '#core/models/runtime.ts';
import {
  ctcDecode,
  MAX_IMAGE_SIDE,
  OCR_ASSETS,
  ocrPipeline,
  parseKeys,
  readingOrder,
  type OcrResult,
  type RasterImage,
} from '#core/pipelines/ocr/index.ts';
import { inBrowser, modelFile, modelOfKind, platformRuntimes } from '#test/models.ts';
import fixture from './fixtures/ocr.json';

const pipeline = ocrPipeline;
const drawing = fixture.drawing;
const drawn = drawing.lines.map((l) => l.text);
/** A stored result, checked by the pipeline's own output decoder. */
function stored(value: unknown): OcrResult {
  const decoded = ocrPipeline.decodeOutput(encodeCanonical(value));
  if (!decoded.ok) throw decoded.error;
  return decoded.value;
}
const reference = { upright: stored(fixture.reference.upright), upsideDown: stored(fixture.reference.upsideDown) };

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The same image turned by 180 degrees. */
function turned(image: RasterImage): RasterImage {
  const out = new Uint8Array(image.data.length);
  const n = image.width * image.height;
  const c = image.channels;
  for (let i = 0; i < n; i++) out.set(image.data.subarray(i * c, i * c + c), (n - 1 - i) * c);
  return { ...image, data: out };
}

const loaded = new Map<InferenceRuntime, Promise<PipelineModels>>();

/** The OCR entry's models in `runtime`, loaded once per test file. */
function modelsIn(runtime: InferenceRuntime): Promise<PipelineModels> {
  let models = loaded.get(runtime);
  if (!models) {
    models = loadModels(runtime, entry);
    loaded.set(runtime, models);
  }
  return models;
}

async function loadModels(runtime: InferenceRuntime, entry: ModelEntry): Promise<PipelineModels> {
  const asset = (role: string) => {
    const found = entry.assets.find((a) => a.role === role);
    if (!found) throw new Error(`no ${role} asset`);
    return found.id;
  };
  const load = async (id: string) => runtime.load(await modelFile(id), id as ModelEntry['id']);
  return {
    main: await load(entry.id),
    sessions: {
      [OCR_ASSETS.classifier]: await load(asset(OCR_ASSETS.classifier)),
      [OCR_ASSETS.recogniser]: await load(asset(OCR_ASSETS.recogniser)),
    },
    files: { [OCR_ASSETS.keys]: await modelFile(asset(OCR_ASSETS.keys)) },
  };
}

/** Runs a task end to end as a worker would: input bytes in, canonical output bytes out, decoded again. */
async function runTask(models: PipelineModels, input: Uint8Array): Promise<OcrResult> {
  const image = pipeline.decodeInput(input);
  if (!image.ok) throw image.error;
  const output = pipeline.decodeOutput(pipeline.encodeOutput(await pipeline.run(models, image.value)));
  if (!output.ok) throw output.error;
  return output.value;
}

const texts = (result: OcrResult) => result.lines.map((l) => l.text);

let entry: ModelEntry;
let inputBytes: Uint8Array;
let image: RasterImage;
let runtimes: InferenceRuntime[];

beforeAll(async () => {
  entry = await modelOfKind('ocr');
  inputBytes = await gunzip(fromBase64Url(fixture.input));
  const decoded = pipeline.decodeInput(inputBytes);
  if (!decoded.ok) throw decoded.error;
  image = decoded.value;
  runtimes = await platformRuntimes();
});

afterAll(async () => {
  for (const models of loaded.values()) {
    const { main, sessions } = await models;
    for (const session of [main, ...Object.values(sessions)]) await session.release();
  }
});

describe('OCR catalogue entry', () => {
  it('describes a heavy Apache-2.0 model compared by text, with classifier, recogniser and key list', () => {
    expect(entry.kind).toBe('ocr');
    expect(entry.sizeClass).toBe('heavy');
    expect(entry.tolerance).toEqual({ measure: 'text' });
    expect(entry.license.spdx).toBe('Apache-2.0');
    expect(entry.pre).toBe(pipeline.name);
    expect(entry.post).toBe(pipeline.name);
    expect(entry.price).toEqual({ perUnit: 20, unit: 'image' });
    expect(entry.assets.map((a) => a.role)).toEqual([OCR_ASSETS.classifier, OCR_ASSETS.recogniser, OCR_ASSETS.keys]);
  });
});

describe('OCR input and output encoding', () => {
  const image3: RasterImage = { width: 2, height: 1, channels: 3, data: Uint8Array.of(1, 2, 3, 4, 5, 6) };

  it('round-trips images canonically and counts one unit per image', () => {
    expect(image.width).toBe(drawing.width);
    expect(image.channels).toBe(4);
    expect(pipeline.encodeInput(image)).toEqual(inputBytes);
    const decoded = pipeline.decodeInput(pipeline.encodeInput(image3));
    expect(decoded.ok && decoded.value).toEqual(image3);
    expect(pipeline.units(image)).toBe(1);
  });

  it('refuses malformed images without throwing', () => {
    const bad: unknown[] = [
      { ...image3, channels: 1, data: Uint8Array.of(1, 2) },
      { ...image3, data: Uint8Array.of(1, 2, 3) },
      { ...image3, width: 0, data: new Uint8Array(0) },
      { width: MAX_IMAGE_SIDE + 1, height: 1, channels: 3, data: new Uint8Array((MAX_IMAGE_SIDE + 1) * 3) },
      { ...image3, width: 1.5 },
      { ...image3, extra: 1 },
      { width: 2, height: 1, channels: 3 },
      [2, 1, 3, image3.data],
    ];
    for (const value of bad) {
      const decoded = pipeline.decodeInput(encodeCanonical(value));
      expect(decoded.ok).toBe(false);
      expect(!decoded.ok && decoded.error.code).toBe('invalid-model-input');
    }
    expect(pipeline.decodeInput(Uint8Array.of(0xff, 0x00)).ok).toBe(false);
    expect(pipeline.decodeInput(inputBytes.subarray(0, inputBytes.length - 1)).ok).toBe(false);
  });

  it('round-trips results and refuses malformed ones', () => {
    const result = reference.upright;
    const decoded = pipeline.decodeOutput(pipeline.encodeOutput(result));
    expect(decoded.ok && decoded.value).toEqual(result);
    const line = result.lines[0];
    if (!line) throw new Error('empty reference');
    const bad: unknown[] = [
      { lines: [{ ...line, text: '' }] },
      { lines: [{ ...line, confidence: 1.5 }] },
      { lines: [{ ...line, box: [5, 0, 5, 10] }] },
      { lines: [{ ...line, box: [0, 0, 10] }] },
      { lines: [{ ...line, box: [0, 0, 10, 10.5] }] },
      { lines: [{ ...line, text: 'a\u0000b' }] },
      { lines: [line], extra: true },
      { lines: 'TOTAL' },
    ];
    for (const value of bad) expect(pipeline.decodeOutput(encodeCanonical(value)).ok).toBe(false);
  });

  it('agrees on equal texts line by line only', () => {
    const a = reference.upright;
    const [first, ...rest] = a.lines;
    if (!first) throw new Error('empty reference');
    const shifted: OcrResult = { lines: [{ ...first, confidence: 0.5, box: [0, 0, 9, 9] }, ...rest] };
    expect(pipeline.agree(a, shifted, entry.tolerance)).toBe(true);
    expect(pipeline.agree(a, { lines: [{ ...first, text: 'T0TAL 42.50' }, ...rest] }, entry.tolerance)).toBe(false);
    expect(pipeline.agree(a, { lines: rest }, entry.tolerance)).toBe(false);
    expect(pipeline.agree(a, { lines: [...rest, first] }, entry.tolerance)).toBe(false);
  });
});

describe('OCR pieces', () => {
  it('decodes CTC greedily: repeats merged, blanks dropped', () => {
    const classes = ['', 'a', 'b', ' '];
    const oneHot = (c: number) => [0, 1, 2, 3].map((k) => (k === c ? 0.9 : 0.1 / 3));
    const steps = [1, 1, 0, 1, 2, 2, 3, 0, 0, 2];
    const { text, confidence } = ctcDecode(Float32Array.from(steps.flatMap(oneHot)), steps.length, classes);
    expect(text).toBe('aab b');
    expect(confidence).toBeCloseTo(0.9, 6);
    expect(ctcDecode(Float32Array.from([0, 0].flatMap(oneHot)), 2, classes)).toEqual({ text: '', confidence: 0 });
  });

  it('puts blank first and a space last around the key list', () => {
    expect(parseKeys(new TextEncoder().encode('a\nb\r\n'))).toEqual(['', 'a', 'b', ' ']);
    expect(parseKeys(new TextEncoder().encode('a\nb'))).toEqual(['', 'a', 'b', ' ']);
  });

  it('orders boxes top to bottom, left to right within a line', () => {
    const order = readingOrder([
      [200, 46, 300, 80],
      [10, 50, 100, 80],
      [10, 10, 100, 40],
    ]);
    expect(order).toEqual([
      [10, 10, 100, 40],
      [10, 50, 100, 80],
      [200, 46, 300, 80],
    ]);
  });
});

describe('OCR pipeline on every platform runtime', () => {
  it('reads the fixture image exactly, upright and turned, and agrees with the reference', async () => {
    for (const runtime of runtimes) {
      const models = await modelsIn(runtime);
      const started = performance.now();
      const upright = await runTask(models, inputBytes);
      const elapsed = performance.now() - started;
      const upsideDown = await runTask(models, pipeline.encodeInput(turned(image)));
      expect(texts(upright), runtime.name).toEqual(drawn);
      expect(texts(upsideDown), runtime.name).toEqual(drawn.toReversed());
      expect(pipeline.agree(upright, reference.upright, entry.tolerance), runtime.name).toBe(true);
      expect(pipeline.agree(upsideDown, reference.upsideDown, entry.tolerance), runtime.name).toBe(true);
      for (const [i, line] of upright.lines.entries()) {
        expect(line.confidence).toBeGreaterThan(0.9);
        // Boxes may move by a pixel between backends; they must stay around the drawn line.
        const box = reference.upright.lines[i]?.box;
        if (!box) throw new Error('no reference line');
        expect(Math.max(...line.box.map((v, k) => Math.abs(v - (box[k] as number)))), runtime.name).toBeLessThanOrEqual(
          2,
        );
      }
      console.info(`ocr ${runtime.name}: ${elapsed.toFixed(0)} ms for a ${image.width}x${image.height} image`);
    }
  });

  it.runIf(inBrowser)('reads text drawn live on a canvas in this browser', async () => {
    const canvas = document.createElement('canvas');
    canvas.width = drawing.width;
    canvas.height = drawing.height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2d context');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, drawing.width, drawing.height);
    ctx.fillStyle = '#000000';
    ctx.font = drawing.font;
    ctx.textBaseline = 'top';
    for (const line of drawing.lines) ctx.fillText(line.text, line.x, line.y);
    const pixels = ctx.getImageData(0, 0, drawing.width, drawing.height);
    const live: RasterImage = {
      width: pixels.width,
      height: pixels.height,
      channels: 4,
      data: new Uint8Array(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength),
    };
    const [runtime] = runtimes;
    if (!runtime) throw new Error('no runtime');
    const result = await runTask(await modelsIn(runtime), pipeline.encodeInput(live));
    expect(texts(result)).toEqual(drawn);
    expect(pipeline.agree(result, reference.upright, entry.tolerance)).toBe(true);
  });
});
