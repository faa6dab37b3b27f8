/**
 * The raster image input shared by the image tasks: one image, 8 bits per
 * channel, rows top to bottom, canonically encoded (DAG-CBOR) as the map
 * `{width, height, channels, data}`, `data` holding `width * height *
 * channels` bytes, row-major, channels interleaved. Each task fixes which
 * channel counts it accepts and the largest side with {@link rasterFormat}.
 */
import * as v from 'valibot';
import { decodeCanonical, encodeCanonical } from '../encoding/canonical.ts';
import { err, ok, type Result } from '../result.ts';
import { InvalidModelInputError } from '../models/errors.ts';

/** A raster image whose channel count is one of `C`. */
export interface Raster<C extends number> {
  readonly width: number;
  readonly height: number;
  readonly channels: C;
  /** `width * height * channels` bytes, row-major, channels interleaved. */
  readonly data: Uint8Array;
}

/** One task's image format. */
export interface RasterFormat<C extends number> {
  /** The largest width or height accepted, in pixels. */
  readonly maxSide: number;
  readonly encode: (image: Raster<C>) => Uint8Array;
  /** Decodes a task's input bytes into an image, checking every field and the byte count. Never throws. */
  readonly decode: (bytes: Uint8Array) => Result<Raster<C>, InvalidModelInputError>;
  /** Checks that a value is a well-formed image of this format. Never throws. */
  readonly check: (value: unknown) => Result<Raster<C>, InvalidModelInputError>;
}

/** The image format accepting `channels` and sides of 1 to `maxSide` pixels. */
export function rasterFormat<const C extends number>(channels: readonly C[], maxSide: number): RasterFormat<C> {
  const side = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(maxSide));
  const imageSchema = v.strictObject({
    width: side,
    height: side,
    channels: v.picklist(channels),
    data: v.instance(Uint8Array),
  });
  // The encoding of the largest image plus room for the map around its pixels.
  const maxEncodedBytes = maxSide * maxSide * Math.max(...channels) + 64;

  const check = (value: unknown): Result<Raster<C>, InvalidModelInputError> => {
    const parsed = v.safeParse(imageSchema, value, { abortEarly: true });
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
      return err(new InvalidModelInputError(`image${path ? `.${path}` : ''}: ${issue.message}`));
    }
    const { width, height, channels: c, data } = parsed.output;
    if (data.length !== width * height * c) {
      return err(
        new InvalidModelInputError(
          `image: ${width}x${height}x${c} needs ${width * height * c} bytes, got ${data.length}`,
        ),
      );
    }
    return ok({ width, height, channels: c, data });
  };

  return {
    maxSide,
    encode(image: Raster<C>): Uint8Array {
      return encodeCanonical({ width: image.width, height: image.height, channels: image.channels, data: image.data });
    },
    decode(bytes: Uint8Array): Result<Raster<C>, InvalidModelInputError> {
      if (!(bytes instanceof Uint8Array)) return err(new InvalidModelInputError('image: expected bytes'));
      const decoded = decodeCanonical(bytes, { maxBytes: maxEncodedBytes });
      if (!decoded.ok) return err(new InvalidModelInputError(`image: ${decoded.error.message}`));
      return check(decoded.value);
    },
    check,
  };
}
