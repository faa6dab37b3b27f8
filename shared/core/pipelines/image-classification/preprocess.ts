/**
 * Pre-processing for the clothing classifier: any image becomes the
 * network's input, a 28x28 grey picture of pixel/255 in the Fashion-MNIST
 * convention of a light object on a black background.
 *
 * Fashion-MNIST was made from product photos (dark garments on white) by
 * trimming the background, resizing the longest edge to 28 pixels, centring
 * and negating the intensities. This pipeline does the same to a photo:
 *
 * 1. grey (see {@link toGrey});
 * 2. the background level is the median of the four corner squares;
 * 3. INVERSION: when that background is light (median > 127) every pixel is
 *    inverted (255 - v), so a photo of a garment on a light background
 *    becomes a light garment on a dark one; an image whose corners are
 *    already dark, such as a Fashion-MNIST image itself, is not inverted;
 * 4. a background level above {@link BLACK_LEVEL} (after inversion) is mapped
 *    to black and the range above it stretched to 0..255;
 * 5. the image is trimmed to the bounding box of the pixels brighter than
 *    {@link TRIM_THRESHOLD}, but only when that enlarges the garment by more
 *    than {@link TRIM_MIN_GAIN} (a garment that already fills the frame, as in
 *    every Fashion-MNIST image, keeps its place);
 * 6. area-average resize (every source pixel weighted by how much of it an
 *    output pixel covers) so that the longest edge is 28 pixels, keeping the
 *    aspect ratio, centred on black (left/top get the smaller half of the
 *    padding);
 * 7. divided by 255.
 *
 * Every one of the 10,000 Fashion-MNIST test images passes through unchanged
 * (test/models/clothing.test.ts checks it), so the network sees exactly what
 * it was trained on and the pipeline's accuracy is the network's.
 */
import { toGrey, type ClassifyImage, type GreyImage } from './image.ts';

/** The network's input side: images are 28x28. */
export const CLOTHING_SIDE = 28;
export const CLOTHING_PIXELS = CLOTHING_SIDE * CLOTHING_SIDE;
/** Pixels at or below this (0..255, after the background is mapped to black) count as background when trimming. */
export const TRIM_THRESHOLD = 16;
/** Trimming happens only when it makes the garment more than this much larger. */
export const TRIM_MIN_GAIN = 1.25;
/** A background level at or below this (after inversion) is taken as black already and left alone. */
export const BLACK_LEVEL = 8;

/** What pre-processing decided about an image. */
export interface ClothingPreparation {
  /** The background level found in the corners (0..255, before inversion). */
  readonly background: number;
  /** Whether the image was inverted (light background). */
  readonly inverted: boolean;
  /** The part of the source image kept after trimming: `[x0, x1) x [y0, y1)`. */
  readonly box: readonly [number, number, number, number];
}

/**
 * Writes the network input for `image` (784 floats, row-major) into `out` at
 * `offset` and says what it did. Deterministic: plain float64 arithmetic in a
 * fixed order, so every runner feeds the network the same numbers.
 */
export function prepareClothing(image: ClassifyImage, out: Float32Array, offset = 0): ClothingPreparation {
  const grey = toGrey(image);
  const background = cornerMedian(grey);
  const inverted = background > 127;
  const found = inverted ? 255 - background : background;
  const level = found <= BLACK_LEVEL ? 0 : found;
  // levels[v]: the value of source byte v after inversion and background removal.
  const levels = new Float64Array(256);
  for (let v = 0; v < 256; v++) {
    const x = inverted ? 255 - v : v;
    levels[v] = level === 0 ? x : (Math.max(0, x - level) * 255) / (255 - level);
  }
  const box = trimBox(grey, levels);
  resizeInto(grey, levels, box, out, offset);
  return { background, inverted, box };
}

/**
 * The lower median of the four corner squares, each
 * `max(1, round(min(width, height) / 14))` pixels on a side (2x2 on a 28x28
 * image): a garment is centred, so its corners show the background.
 */
export function cornerMedian(image: GreyImage): number {
  const { width, height, data } = image;
  const side = Math.max(1, Math.round(Math.min(width, height) / 14));
  const histogram = new Uint32Array(256);
  let count = 0;
  for (const y0 of [0, height - side]) {
    for (const x0 of [0, width - side]) {
      for (let y = y0; y < y0 + side; y++) {
        for (let x = x0; x < x0 + side; x++) {
          const v = data[y * width + x] as number;
          histogram[v] = (histogram[v] as number) + 1;
          count++;
        }
      }
    }
  }
  const half = Math.ceil(count / 2);
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += histogram[v] as number;
    if (seen >= half) return v;
  }
  return 255;
}

function trimBox(image: GreyImage, levels: Float64Array): [number, number, number, number] {
  const { width, height, data } = image;
  let x0 = width;
  let y0 = height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((levels[data[y * width + x] as number] as number) > TRIM_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x >= x1) x1 = x + 1;
        if (y < y0) y0 = y;
        if (y >= y1) y1 = y + 1;
      }
    }
  }
  const whole: [number, number, number, number] = [0, 0, width, height];
  if (x1 <= x0 || y1 <= y0) return whole;
  // Trim only when it enlarges the garment noticeably: a garment that already fills the frame stays where it is.
  const gain = Math.max(width, height) / Math.max(x1 - x0, y1 - y0);
  return gain > TRIM_MIN_GAIN ? [x0, y0, x1, y1] : whole;
}

/** For each output pixel of a 1-D area resize: the first source pixel and the weights of the ones it covers. */
interface AreaTable {
  readonly start: Int32Array;
  readonly weights: Float64Array[];
}

function areaTable(from: number, to: number): AreaTable {
  const start = new Int32Array(to);
  const weights: Float64Array[] = [];
  for (let o = 0; o < to; o++) {
    const lo = (o * from) / to;
    const hi = ((o + 1) * from) / to;
    const first = Math.floor(lo);
    const last = Math.min(from, Math.ceil(hi));
    const w = new Float64Array(last - first);
    for (let i = first; i < last; i++) w[i - first] = (Math.min(hi, i + 1) - Math.max(lo, i)) / (hi - lo);
    start[o] = first;
    weights.push(w);
  }
  return { start, weights };
}

function resizeInto(
  image: GreyImage,
  levels: Float64Array,
  box: readonly [number, number, number, number],
  out: Float32Array,
  offset: number,
): void {
  const [bx0, by0, bx1, by1] = box;
  const sw = bx1 - bx0;
  const sh = by1 - by0;
  const scale = CLOTHING_SIDE / Math.max(sw, sh);
  const tw = Math.min(CLOTHING_SIDE, Math.max(1, Math.round(sw * scale)));
  const th = Math.min(CLOTHING_SIDE, Math.max(1, Math.round(sh * scale)));
  const ox = Math.floor((CLOTHING_SIDE - tw) / 2);
  const oy = Math.floor((CLOTHING_SIDE - th) / 2);
  const xs = areaTable(sw, tw);
  const ys = areaTable(sh, th);
  // Horizontal pass: sh rows of tw values.
  const rows = new Float64Array(sh * tw);
  for (let y = 0; y < sh; y++) {
    const src = (by0 + y) * image.width + bx0;
    for (let x = 0; x < tw; x++) {
      const first = xs.start[x] as number;
      const w = xs.weights[x] as Float64Array;
      let sum = 0;
      for (let k = 0; k < w.length; k++)
        sum += (w[k] as number) * (levels[image.data[src + first + k] as number] as number);
      rows[y * tw + x] = sum;
    }
  }
  out.fill(0, offset, offset + CLOTHING_PIXELS);
  // Vertical pass, straight into the padded output.
  for (let y = 0; y < th; y++) {
    const first = ys.start[y] as number;
    const w = ys.weights[y] as Float64Array;
    for (let x = 0; x < tw; x++) {
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += (w[k] as number) * (rows[(first + k) * tw + x] as number);
      out[offset + (oy + y) * CLOTHING_SIDE + ox + x] = sum / 255;
    }
  }
}
