/**
 * The image-classification task's input: one raster image, 8 bits per
 * channel, rows top to bottom, canonically encoded (DAG-CBOR) as the map
 * `{width, height, channels, data}` with `channels` 1 (grey), 3 (RGB) or 4
 * (RGBA, not premultiplied). A phone makes one from a camera photo by drawing
 * it, scaled down, onto a canvas and taking `getImageData()` (RGBA).
 */
import type { Result } from '#core/result.ts';
import type { InvalidModelInputError } from '#core/models/errors.ts';
import { rasterFormat, type Raster } from '../image.ts';

/** The largest width or height accepted, in pixels. Phones scale photos down before sending them. */
export const MAX_CLASSIFY_IMAGE_SIDE = 1024;

/**
 * An image to classify. `channels` is 1: grey; 3: RGB; 4: RGBA (not
 * premultiplied; composited onto white before reading).
 */
export type ClassifyImage = Raster<1 | 3 | 4>;

/** A grey image, one byte per pixel, row-major. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const format = rasterFormat([1, 3, 4], MAX_CLASSIFY_IMAGE_SIDE);

export const encodeClassifyImage: (image: ClassifyImage) => Uint8Array = format.encode;

/** Decodes a task's input bytes into an image, checking every field and the byte count. Never throws. */
export const decodeClassifyImage: (bytes: Uint8Array) => Result<ClassifyImage, InvalidModelInputError> = format.decode;

/** Checks that a value is a well-formed {@link ClassifyImage}. Never throws. */
export const checkClassifyImage: (value: unknown) => Result<ClassifyImage, InvalidModelInputError> = format.check;

/**
 * The image in grey: RGBA is first composited onto white, then RGB becomes
 * luma with the ITU-R BT.601 weights (0.299 R + 0.587 G + 0.114 B, as PIL's
 * "L" conversion). Integer arithmetic, so every runner gets the same bytes.
 */
export function toGrey(image: ClassifyImage): GreyImage {
  const { width, height, channels, data } = image;
  if (channels === 1) return { width, height, data };
  const n = width * height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let r = data[i * channels] as number;
    let g = data[i * channels + 1] as number;
    let b = data[i * channels + 2] as number;
    if (channels === 4) {
      const a = data[i * 4 + 3] as number;
      const white = 255 * (255 - a);
      r = Math.floor((r * a + white + 127) / 255);
      g = Math.floor((g * a + white + 127) / 255);
      b = Math.floor((b * a + white + 127) / 255);
    }
    out[i] = Math.floor((299 * r + 587 * g + 114 * b + 500) / 1000);
  }
  return { width, height, data: out };
}
