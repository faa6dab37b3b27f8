/**
 * The OCR task's input: one raster image, 8 bits per channel, RGB or RGBA,
 * rows top to bottom, canonically encoded as the map
 * `{width, height, channels, data}`. And the few pixel operations the
 * pipeline needs: flattening onto white, cropping, turning by 180 degrees
 * and resizing (bilinear) into a normalised NCHW tensor.
 */
import type { Result } from '#core/result.ts';
import type { InvalidModelInputError } from '#core/models/errors.ts';
import { rasterFormat, type Raster } from '../image.ts';

/** The largest width or height accepted, in pixels. */
export const MAX_IMAGE_SIDE = 4096;

/** An OCR input image. `channels` is 3: RGB; 4: RGBA (not premultiplied; composited onto white before reading). */
export type RasterImage = Raster<3 | 4>;

/** An RGB image, 3 interleaved bytes per pixel: what the pipeline works on. */
export interface Rgb {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const format = rasterFormat([3, 4], MAX_IMAGE_SIDE);

export const encodeImage: (image: RasterImage) => Uint8Array = format.encode;

/** Decodes a task's input bytes into an image, checking every field and the pixel count. Never throws. */
export const decodeImage: (bytes: Uint8Array) => Result<RasterImage, InvalidModelInputError> = format.decode;

/** Checks that a value is a well-formed {@link RasterImage}. Never throws. */
export const checkImage: (value: unknown) => Result<RasterImage, InvalidModelInputError> = format.check;

/** The image as RGB; RGBA pixels are composited onto white (integer arithmetic, so every runner gets the same bytes). */
export function toRgb(image: RasterImage): Rgb {
  const { width, height, channels, data } = image;
  if (channels === 3) return { width, height, data };
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = data[i * 4 + 3] as number;
    const white = 255 * (255 - a);
    for (let c = 0; c < 3; c++) {
      out[i * 3 + c] = Math.floor(((data[i * 4 + c] as number) * a + white + 127) / 255);
    }
  }
  return { width, height, data: out };
}

/** The pixels of `[x0, x1) x [y0, y1)`, which must lie inside `image`. */
export function crop(image: Rgb, x0: number, y0: number, x1: number, y1: number): Rgb {
  const width = x1 - x0;
  const height = y1 - y0;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * image.width + x0) * 3;
    out.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data: out };
}

/** The image turned by 180 degrees. */
export function rotate180(image: Rgb): Rgb {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const j = (n - 1 - i) * 3;
    out[i * 3] = image.data[j] as number;
    out[i * 3 + 1] = image.data[j + 1] as number;
    out[i * 3 + 2] = image.data[j + 2] as number;
  }
  return { width: image.width, height: image.height, data: out };
}

/** Per-channel normalisation, `(v / 255 - mean) / std`, in the tensor's channel order (B, G, R). */
export interface Normalisation {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/**
 * Resizes `image` to `width` x `height` (bilinear, pixel centres aligned, as
 * OpenCV's INTER_LINEAR; values rounded to bytes as OpenCV does) and writes it
 * normalised into `out` at item `index` of an `[n, 3, height, padWidth]`
 * tensor, channels in B, G, R order (the PaddleOCR models were trained on
 * OpenCV's BGR images). Columns from `width` to `padWidth` are left as they
 * are (zero in a fresh array).
 */
export function resizeInto(
  image: Rgb,
  width: number,
  height: number,
  out: Float32Array,
  index: number,
  padWidth: number,
  norm: Normalisation,
): void {
  const xs = sampleTable(image.width, width);
  const ys = sampleTable(image.height, height);
  const plane = height * padWidth;
  const base = index * 3 * plane;
  const scale = [0, 1, 2].map((c) => 1 / (255 * (norm.std[c] as number)));
  const shift = [0, 1, 2].map((c) => (norm.mean[c] as number) / (norm.std[c] as number));
  const src = image.data;
  const rowStride = image.width * 3;
  for (let y = 0; y < height; y++) {
    const r0 = (ys.i0[y] as number) * rowStride;
    const r1 = (ys.i1[y] as number) * rowStride;
    const fy = ys.f[y] as number;
    for (let x = 0; x < width; x++) {
      const c0 = (xs.i0[x] as number) * 3;
      const c1 = (xs.i1[x] as number) * 3;
      const fx = xs.f[x] as number;
      for (let c = 0; c < 3; c++) {
        const top = (src[r0 + c0 + c] as number) * (1 - fx) + (src[r0 + c1 + c] as number) * fx;
        const bottom = (src[r1 + c0 + c] as number) * (1 - fx) + (src[r1 + c1 + c] as number) * fx;
        const value = Math.round(top * (1 - fy) + bottom * fy);
        // RGB source channel c goes to tensor channel 2 - c (BGR).
        const t = 2 - c;
        out[base + t * plane + y * padWidth + x] = value * (scale[t] as number) - (shift[t] as number);
      }
    }
  }
}

interface SampleTable {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly f: Float64Array;
}

function sampleTable(from: number, to: number): SampleTable {
  const i0 = new Int32Array(to);
  const i1 = new Int32Array(to);
  const f = new Float64Array(to);
  const ratio = from / to;
  for (let i = 0; i < to; i++) {
    let s = (i + 0.5) * ratio - 0.5;
    if (s < 0) s = 0;
    let lo = Math.floor(s);
    if (lo >= from - 1) {
      lo = from - 1;
      s = lo;
    }
    i0[i] = lo;
    i1[i] = Math.min(lo + 1, from - 1);
    f[i] = s - lo;
  }
  return { i0, i1, f };
}
