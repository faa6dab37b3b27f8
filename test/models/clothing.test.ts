/**
 * Clothing classification (the project's Fashion-MNIST MLP): on every runtime
 * of the platform the pipeline agrees with the stored float64 reference
 * outputs and gives the reference top-1 class for every fixture image; in Node
 * onnxruntime-node also classifies the whole 10k Fashion-MNIST test set
 * (Debian's files) and must reach the accuracy the catalogue records.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '#core/encoding/bytes.ts';
import { encodeCanonical } from '#core/encoding/canonical.ts';
import type { ModelEntry, Tolerance } from '#core/models/catalogue.ts';
import type { PipelineModels } from '#core/models/pipeline.ts';
import type { InferenceRuntime, ModelSession } from '#core/models/runtime.ts';
import { float32Tensor } from '#core/models/tensor.ts';
import {
  classifyLogits,
  CLOTHING_INPUT,
  CLOTHING_LABELS,
  CLOTHING_OUTPUT,
  CLOTHING_PIXELS,
  clothingPipeline,
  MAX_CLASSIFY_IMAGE_SIDE,
  prepareClothing,
  type ClassifyImage,
  type ClothingResult,
} from '#core/pipelines/image-classification/index.ts';
import { inBrowser, loadCatalogue, modelFile, platformRuntimes } from '#test/models.ts';
import fixtures from './fixtures/clothing.json';

const pipeline = clothingPipeline;
/** How closely every runtime reproduces the float64 reference probabilities. */
const PROBABILITY_TOLERANCE: Tolerance = { measure: 'max-abs', value: 1e-4 };

const pixels = fromBase64Url(fixtures.images);
const imageOf = (n: number): Uint8Array => pixels.subarray(n * CLOTHING_PIXELS, (n + 1) * CLOTHING_PIXELS);
const greyImage = (n: number): ClassifyImage => ({ width: 28, height: 28, channels: 1, data: imageOf(n) });
const references = fixtures.reference as readonly {
  readonly index: number;
  readonly label: string;
  readonly probabilities: readonly number[];
  readonly top: ClothingResult['top'];
}[];
const referenceResult = (r: (typeof references)[number]): ClothingResult => ({
  label: r.top[0]?.label as ClothingResult['label'],
  confidence: r.top[0]?.p as number,
  top: r.top,
});

const modelsOf = (main: ModelSession): PipelineModels => ({ main, sessions: {}, files: {} });

/** Runs a task end to end as a worker would: input bytes in, canonical output bytes out. */
async function runTask(models: PipelineModels, image: ClassifyImage): Promise<Uint8Array> {
  const input = pipeline.decodeInput(pipeline.encodeInput(image));
  if (!input.ok) throw input.error;
  return pipeline.encodeOutput(await pipeline.run(models, input.value));
}

/** A Fashion-MNIST image scaled up `factor` times (each pixel a factor x factor block), as RGB. */
function upscaledRgb(data: Uint8Array, factor: number, map: (v: number) => number): ClassifyImage {
  const side = 28 * factor;
  const out = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = map(data[Math.floor(y / factor) * 28 + Math.floor(x / factor)] as number);
      out.set([v, v, v], (y * side + x) * 3);
    }
  }
  return { width: side, height: side, channels: 3, data: out };
}

/**
 * A stand-in for a phone photo: the garment dark on a light, slightly noisy,
 * slightly tinted background, three times larger, off centre in a wider RGBA frame.
 */
function photoOf(data: Uint8Array): ClassifyImage {
  const width = 131;
  const height = 110;
  const [left, top, factor, background] = [31, 12, 3, 228];
  const out = new Uint8Array(width * height * 4);
  let seed = 12345;
  const noise = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return ((seed >>> 16) % 7) - 3;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.floor((x - left) / factor);
      const sy = Math.floor((y - top) / factor);
      const inside = sx >= 0 && sx < 28 && sy >= 0 && sy < 28;
      const v = inside ? (data[sy * 28 + sx] as number) : 0;
      const grey = background - (v * background) / 255 + noise();
      const clamp = (c: number): number => Math.max(0, Math.min(255, Math.round(c)));
      out.set([clamp(grey + 4), clamp(grey), clamp(grey - 5), 255], (y * width + x) * 4);
    }
  }
  return { width, height, channels: 4, data: out };
}

describe('clothing classifier on every runtime', () => {
  let entry: ModelEntry;
  let bytes: Uint8Array;
  let runtimes: InferenceRuntime[];

  beforeAll(async () => {
    const found = (await loadCatalogue()).models.find((m) => m.name === 'clothing-mlp');
    if (!found) throw new Error('no clothing-mlp in the catalogue');
    entry = found;
    bytes = await modelFile(entry.id);
    runtimes = await platformRuntimes();
  });

  it('is catalogued as a phone-sized image classifier with its measured accuracy', () => {
    expect(entry.kind).toBe('image-classification');
    expect(entry.sizeClass).toBe('phone');
    expect(entry.pre).toBe(pipeline.name);
    expect(entry.post).toBe(pipeline.name);
    expect(entry.tolerance).toEqual({ measure: 'top1' });
    expect(entry.license.spdx).toBe('MIT');
    expect(entry.price).toEqual({ perUnit: 1, unit: 'image' });
    expect(entry.metrics.testAccuracy).toBeGreaterThanOrEqual(0.85);
    for (const label of CLOTHING_LABELS) expect(entry.description).toContain(label);
    // The fixtures were made from this very model file.
    expect(entry.id).toBe(fixtures.model);
  });

  it('agrees with the stored reference outputs and fixture labels', async () => {
    expect(references.length).toBe(20);
    for (const runtime of runtimes) {
      const session = await runtime.load(bytes, entry.id);
      try {
        const models = modelsOf(session);
        for (const reference of references) {
          const decoded = pipeline.decodeOutput(await runTask(models, greyImage(reference.index)));
          if (!decoded.ok) throw decoded.error;
          const where = `${runtime.name}: test image ${reference.index}`;
          expect(decoded.value.top, where).toHaveLength(3);
          expect(pipeline.agree(decoded.value, referenceResult(reference), entry.tolerance), where).toBe(true);
          expect(pipeline.agree(decoded.value, referenceResult(reference), PROBABILITY_TOLERANCE), where).toBe(true);
        }
        // Every fixture image, one task each: the reference top-1 class, and so the reference accuracy.
        const started = performance.now();
        let correct = 0;
        for (let n = 0; n < fixtures.count; n++) {
          const result = await pipeline.run(models, greyImage(n));
          const index = CLOTHING_LABELS.indexOf(result.label);
          expect(index, `${runtime.name}: image ${n}`).toBe(fixtures.predicted[n]);
          if (index === fixtures.labels[n]) correct++;
        }
        const perItem = (performance.now() - started) / fixtures.count;
        console.info(`clothing ${runtime.name}: ${perItem.toFixed(3)} ms per image`);
        expect(correct / fixtures.count).toBe(fixtures.referenceAccuracy);
        expect(correct / fixtures.count).toBeGreaterThanOrEqual(0.85);
      } finally {
        await session.release();
      }
    }
  });

  it('classifies a photo-like image (dark garment on a light, noisy background) like the original', async () => {
    for (const runtime of runtimes) {
      const session = await runtime.load(bytes, entry.id);
      try {
        let same = 0;
        for (const reference of references) {
          const result = await pipeline.run(modelsOf(session), photoOf(imageOf(reference.index)));
          if (result.label === reference.top[0]?.label) same++;
        }
        expect(same, runtime.name).toBeGreaterThanOrEqual(references.length - 2);
      } finally {
        await session.release();
      }
    }
  });

  it('takes a batch of images', async () => {
    const n = 8;
    const batch = new Float32Array(n * CLOTHING_PIXELS);
    for (let i = 0; i < n; i++) prepareClothing(greyImage(i), batch, i * CLOTHING_PIXELS);
    for (const runtime of runtimes) {
      const session = await runtime.load(bytes, entry.id);
      try {
        const out = await session.run({ [CLOTHING_INPUT]: float32Tensor(batch, [n, 1, 28, 28]) });
        const logits = out[CLOTHING_OUTPUT];
        expect(logits?.dims).toEqual([n, CLOTHING_LABELS.length]);
        const data = logits?.data as Float32Array;
        for (let i = 0; i < n; i++) {
          const result = classifyLogits(data.subarray(i * 10, (i + 1) * 10));
          expect(CLOTHING_LABELS.indexOf(result.label), `${runtime.name}: image ${i}`).toBe(fixtures.predicted[i]);
        }
      } finally {
        await session.release();
      }
    }
  });
});

describe('clothing pre-processing', () => {
  it('passes Fashion-MNIST images through unchanged (pixel / 255, no inversion, no trimming)', () => {
    const out = new Float32Array(CLOTHING_PIXELS);
    for (let n = 0; n < fixtures.count; n++) {
      const info = prepareClothing(greyImage(n), out);
      expect(info.inverted).toBe(false);
      expect(info.box).toEqual([0, 0, 28, 28]);
      expect(out).toEqual(Float32Array.from(imageOf(n), (v) => v / 255));
    }
  });

  it('inverts a light background and area-averages a larger image back to the same input', () => {
    const expected = new Float32Array(CLOTHING_PIXELS);
    const got = new Float32Array(CLOTHING_PIXELS);
    for (let n = 0; n < 16; n++) {
      prepareClothing(greyImage(n), expected);
      const info = prepareClothing(
        upscaledRgb(imageOf(n), 2, (v) => 255 - v),
        got,
      );
      expect(info.inverted).toBe(true);
      expect(got).toEqual(expected);
    }
  });

  it('reads RGBA composited onto white and keeps the aspect ratio of a wide image', () => {
    // A fully transparent pixel is white: an RGBA image with a transparent background is a light background.
    const rgba = new Uint8Array(40 * 20 * 4);
    for (let y = 5; y < 15; y++) for (let x = 10; x < 30; x++) rgba.set([0, 0, 0, 255], (y * 40 + x) * 4);
    const out = new Float32Array(CLOTHING_PIXELS);
    const info = prepareClothing({ width: 40, height: 20, channels: 4, data: rgba }, out);
    expect(info.inverted).toBe(true);
    expect(info.box).toEqual([10, 5, 30, 15]);
    // 20x10 of white after inversion becomes 28x14, centred: rows 7..20 are 1, the rest 0.
    for (let y = 0; y < 28; y++) {
      expect(out.subarray(y * 28, (y + 1) * 28).every((v) => v === (y >= 7 && y < 21 ? 1 : 0))).toBe(true);
    }
  });
});

describe('clothing pipeline input and output', () => {
  it('round-trips input bytes and counts one unit per image', () => {
    const image = greyImage(0);
    const encoded = pipeline.encodeInput(image);
    const decoded = pipeline.decodeInput(encoded);
    expect(decoded.ok && decoded.value).toEqual(image);
    expect(decoded.ok && pipeline.encodeInput(decoded.value)).toEqual(encoded);
    expect(pipeline.units(image)).toBe(1);
  });

  it('refuses malformed images', () => {
    const data = new Uint8Array(4);
    const bad: unknown[] = [
      { width: 2, height: 2, channels: 2, data: new Uint8Array(8) },
      { width: 2, height: 2, channels: 1, data: new Uint8Array(5) },
      { width: 0, height: 2, channels: 1, data: new Uint8Array(0) },
      { width: 2.5, height: 2, channels: 1, data },
      { width: MAX_CLASSIFY_IMAGE_SIDE + 1, height: 1, channels: 1, data: new Uint8Array(MAX_CLASSIFY_IMAGE_SIDE + 1) },
      { width: 2, height: 2, channels: 1, data: Array.from(data) },
      { width: 2, height: 2, channels: 1, data, extra: 1 },
      [2, 2, 1, data],
    ];
    for (const value of bad) {
      const result = pipeline.decodeInput(encodeCanonical(value));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.name).toBe('InvalidModelInputError');
    }
    expect(pipeline.decodeInput(new Uint8Array([0xff])).ok).toBe(false);
    expect(pipeline.decodeInput('not bytes' as unknown as Uint8Array).ok).toBe(false);
    // Not canonical: the width written as a two-byte integer (0x18 0x02) instead of one byte (0x02).
    const good = pipeline.encodeInput({ width: 2, height: 2, channels: 1, data });
    expect(pipeline.decodeInput(good).ok).toBe(true);
    const key = new TextEncoder().encode('ewidth');
    const at = good.findIndex((_, i) => key.every((b, k) => good[i + k] === b)) + key.length;
    expect(good[at]).toBe(0x02);
    const loose = new Uint8Array([...good.subarray(0, at), 0x18, ...good.subarray(at)]);
    expect(pipeline.decodeInput(loose).ok).toBe(false);
  });

  it('encodes results canonically and refuses malformed ones', () => {
    const reference = referenceResult(references[0] as (typeof references)[number]);
    const encoded = pipeline.encodeOutput(reference);
    const decoded = pipeline.decodeOutput(encoded);
    expect(decoded.ok && decoded.value).toEqual(reference);
    expect(decoded.ok && pipeline.encodeOutput(decoded.value)).toEqual(encoded);
    const bad: unknown[] = [
      { ...reference, label: 'Hat' },
      { ...reference, confidence: 0.5 },
      { ...reference, top: [] },
      { ...reference, top: [...reference.top].reverse() },
      { ...reference, top: [reference.top[0], reference.top[0]] },
      { ...reference, top: [...reference.top, reference.top[2]] },
      { ...reference, extra: 1 },
    ];
    for (const value of bad) expect(pipeline.decodeOutput(encodeCanonical(value)).ok).toBe(false);
    expect(pipeline.decodeOutput(new Uint8Array([0xff])).ok).toBe(false);
  });

  it('compares results by top label, by probabilities or exactly', () => {
    const a = referenceResult(references[0] as (typeof references)[number]);
    const b = {
      ...a,
      confidence: a.confidence - 1e-4,
      top: a.top.map((c, i) => (i === 0 ? { ...c, p: c.p - 1e-4 } : c)),
    };
    const other = references.map(referenceResult).find((r) => r.label !== a.label) as ClothingResult;
    expect(pipeline.agree(a, b, { measure: 'top1' })).toBe(true);
    expect(pipeline.agree(a, other, { measure: 'top1' })).toBe(false);
    expect(pipeline.agree(a, b, { measure: 'max-abs', value: 1e-3 })).toBe(true);
    expect(pipeline.agree(a, b, { measure: 'max-abs', value: 1e-5 })).toBe(false);
    expect(pipeline.agree(a, a, { measure: 'text' })).toBe(true);
    expect(pipeline.agree(a, b, { measure: 'text' })).toBe(false);
  });

  it('turns logits into probabilities and refuses a broken output', () => {
    const result = classifyLogits([0, 0, 0, 0, 0, 0, 0, 0, 0, Math.log(9)]);
    expect(result.label).toBe('Ankle boot');
    expect(result.confidence).toBeCloseTo(0.5, 12);
    // Ties go to the earlier class.
    expect(result.top.map((c) => c.label)).toEqual(['Ankle boot', 'T-shirt/top', 'Trouser']);
    expect(() => classifyLogits([1, 2, 3])).toThrow(TypeError);
    expect(() => classifyLogits([0, 0, 0, 0, 0, 0, 0, 0, 0, NaN])).toThrow(TypeError);
  });
});

describe.skipIf(inBrowser)('clothing classifier on the whole Fashion-MNIST test set (Node)', () => {
  it('passes all 10,000 test images through unchanged and reaches the catalogued accuracy in onnxruntime-node', async () => {
    const { readFile } = await import('node:fs/promises');
    const { gunzipSync } = await import('node:zlib');
    const dir = '/usr/share/datasets/fashion-mnist';
    const images = gunzipSync(await readFile(`${dir}/t10k-images-idx3-ubyte.gz`)).subarray(16);
    const labels = gunzipSync(await readFile(`${dir}/t10k-labels-idx1-ubyte.gz`)).subarray(8);
    const count = labels.length;
    expect(count).toBe(10_000);
    expect(images.length).toBe(count * CLOTHING_PIXELS);

    const entry = (await loadCatalogue()).models.find((m) => m.name === 'clothing-mlp');
    if (!entry) throw new Error('no clothing-mlp in the catalogue');
    const [nodeRuntime] = await platformRuntimes();
    if (nodeRuntime?.name !== 'onnxruntime-node') throw new Error('expected onnxruntime-node first');
    const session = await nodeRuntime.load(await modelFile(entry.id), entry.id);
    const batch = 1000;
    let correct = 0;
    let changed = 0;
    try {
      for (let start = 0; start < count; start += batch) {
        const input = new Float32Array(batch * CLOTHING_PIXELS);
        for (let i = 0; i < batch; i++) {
          const data = images.subarray((start + i) * CLOTHING_PIXELS, (start + i + 1) * CLOTHING_PIXELS);
          prepareClothing({ width: 28, height: 28, channels: 1, data }, input, i * CLOTHING_PIXELS);
          // Pre-processing leaves every Fashion-MNIST image as it is: pixel / 255.
          if (!data.every((v, k) => input[i * CLOTHING_PIXELS + k] === Math.fround(v / 255))) changed++;
        }
        const out = await session.run({ [CLOTHING_INPUT]: float32Tensor(input, [batch, 1, 28, 28]) });
        const logits = out[CLOTHING_OUTPUT]?.data as Float32Array;
        for (let i = 0; i < batch; i++) {
          const result = classifyLogits(logits.subarray(i * 10, (i + 1) * 10));
          if (CLOTHING_LABELS.indexOf(result.label) === labels[start + i]) correct++;
        }
      }
    } finally {
      await session.release();
    }
    expect(changed).toBe(0);
    const accuracy = correct / count;
    console.info(`clothing onnxruntime-node: ${(100 * accuracy).toFixed(2)}% on the 10k test set`);
    expect(accuracy).toBeGreaterThanOrEqual(0.85);
    expect(accuracy).toBeGreaterThanOrEqual(entry.metrics.testAccuracy as number);
  });
});
