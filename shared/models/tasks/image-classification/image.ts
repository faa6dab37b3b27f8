/**
 * The image-classification task's input: one raster image, 8 bits per
 * channel, rows top to bottom, canonically encoded (DAG-CBOR) as the map
 * `{width, height, channels, data}` with `channels` 1 (grey), 3 (RGB) or 4
 * (RGBA, not premultiplied). A phone makes one from a camera photo by drawing
 * it, scaled down, onto a canvas and taking `getImageData()` (RGBA).
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '../../../encoding/canonical.ts';
import { err, ok, type Result } from '../../../result.ts';
import { InvalidModelInputError } from '../../errors.ts';

/** The largest width or height accepted, in pixels. Phones scale photos down before sending them. */
export const MAX_CLASSIFY_IMAGE_SIDE = 1024;

export interface ClassifyImage {
  readonly width: number;
  readonly height: number;
  /** 1: grey; 3: RGB; 4: RGBA (not premultiplied; composited onto white before reading). */
  readonly channels: 1 | 3 | 4;
  /** `width * height * channels` bytes, row-major, channels interleaved. */
  readonly data: Uint8Array;
}

/** A grey image, one byte per pixel, row-major. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const side = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_CLASSIFY_IMAGE_SIDE));
const imageSchema = v.strictObject({
  width: side,
  height: side,
  channels: v.picklist([1, 3, 4] as const),
  data: v.instance(Uint8Array),
});

/** The encoding of the largest image plus room for the map around its pixels. */
const MAX_ENCODED_BYTES = MAX_CLASSIFY_IMAGE_SIDE * MAX_CLASSIFY_IMAGE_SIDE * 4 + 64;

export function encodeClassifyImage(image: ClassifyImage): Uint8Array {
  return encodeCanonical({ width: image.width, height: image.height, channels: image.channels, data: image.data });
}

/** Decodes a task's input bytes into an image, checking every field and the byte count. Never throws. */
export function decodeClassifyImage(bytes: Uint8Array): Result<ClassifyImage, InvalidModelInputError> {
  if (!(bytes instanceof Uint8Array)) return err(new InvalidModelInputError('image: expected bytes'));
  const decoded = decodeCanonical(bytes, { maxBytes: MAX_ENCODED_BYTES });
  if (!decoded.ok) return err(new InvalidModelInputError(`image: ${decoded.error.message}`));
  return checkClassifyImage(decoded.value);
}

/** Checks that a value is a well-formed {@link ClassifyImage}. Never throws. */
export function checkClassifyImage(value: unknown): Result<ClassifyImage, InvalidModelInputError> {
  const parsed = v.safeParse(imageSchema, value, { abortEarly: true });
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    return err(new InvalidModelInputError(`image${path ? `.${path}` : ''}: ${issue.message}`));
  }
  const { width, height, channels, data } = parsed.output;
  if (data.length !== width * height * channels) {
    return err(
      new InvalidModelInputError(
        `image: ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${data.length}`,
      ),
    );
  }
  return ok({ width, height, channels, data });
}

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
