/**
 * Text detection with a DB (differentiable binarisation) model such as
 * PaddleOCR's PP-OCRv4 detector: the input tensor for an image, and the boxes
 * read from the probability map it returns. Boxes are axis-aligned, which
 * suits horizontal text; slanted lines get their bounding rectangle.
 */
import type { Normalisation, Rgb } from './image.ts';
import { resizeInto } from './image.ts';

export const DETECTION = {
  /** The longer side of the detector's input is at most this (images are never enlarged). */
  maxSide: 960,
  /** Both sides of the detector's input are multiples of this. */
  multiple: 32,
  /** A map pixel is text when its probability is above this. */
  threshold: 0.3,
  /** A region is kept when its mean probability is at least this. */
  boxThreshold: 0.6,
  /**
   * DB regions are shrunken text; they are grown back by area * ratio /
   * perimeter on every side. 2.0 as in PaddleOCR 3's OCR pipeline (1.5 in the
   * older tools): the wider margin makes the recogniser read the spaces
   * between words far more reliably.
   */
  unclipRatio: 2,
  /** Regions thinner than this (map pixels) are dropped. */
  minSize: 3,
  /** At most this many regions are considered. */
  maxCandidates: 1000,
  /** Boxes whose top edges are this close (image pixels) are on one line and read left to right. */
  sameLine: 10,
} as const;

/**
 * ImageNet mean and standard deviation as PaddleOCR applies them: in the order
 * of the channels of its (BGR) images, which is also our tensor's order.
 */
export const DETECTION_NORMALISATION: Normalisation = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** `[x0, y0, x1, y1]` in image pixels, `x1` and `y1` exclusive. */
export type Box = readonly [number, number, number, number];

/** The detector's input size for an image: scaled to fit `maxSide`, each side rounded to a multiple of 32. */
export function detectionSize(width: number, height: number): { width: number; height: number } {
  const longer = Math.max(width, height);
  const ratio = longer > DETECTION.maxSide ? DETECTION.maxSide / longer : 1;
  const round = (n: number) =>
    Math.max(Math.round((n * ratio) / DETECTION.multiple) * DETECTION.multiple, DETECTION.multiple);
  return { width: round(width), height: round(height) };
}

/** The detector's `[1, 3, height, width]` input for `image` at `size` (see {@link detectionSize}). */
export function detectionInput(image: Rgb, size: { width: number; height: number }): Float32Array {
  const out = new Float32Array(3 * size.width * size.height);
  resizeInto(image, size.width, size.height, out, 0, size.width, DETECTION_NORMALISATION);
  return out;
}

interface Region {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  sum: number;
  count: number;
}

/**
 * The text boxes in a `mapWidth` x `mapHeight` probability map, in the
 * coordinates of the `imageWidth` x `imageHeight` image it was computed for,
 * in reading order (see {@link readingOrder}).
 */
export function boxesFromMap(
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  imageWidth: number,
  imageHeight: number,
): Box[] {
  const boxes: Box[] = [];
  for (const region of regions(map, mapWidth, mapHeight)) {
    // Extent through the pixel centres, as a rectangle fitted to the region's contour has.
    const w = region.maxX - region.minX;
    const h = region.maxY - region.minY;
    if (Math.min(w, h) < DETECTION.minSize) continue;
    if (region.sum / region.count < DETECTION.boxThreshold) continue;
    const d = (w * h * DETECTION.unclipRatio) / (2 * (w + h));
    if (Math.min(w, h) + 2 * d < DETECTION.minSize + 2) continue;
    const sx = imageWidth / mapWidth;
    const sy = imageHeight / mapHeight;
    const x0 = clamp(Math.round((region.minX - d) * sx), imageWidth);
    const x1 = clamp(Math.round((region.maxX + d) * sx), imageWidth);
    const y0 = clamp(Math.round((region.minY - d) * sy), imageHeight);
    const y1 = clamp(Math.round((region.maxY + d) * sy), imageHeight);
    if (x1 - x0 <= 3 || y1 - y0 <= 3) continue;
    boxes.push([x0, y0, x1, y1]);
  }
  return readingOrder(boxes);
}

function clamp(n: number, max: number): number {
  return n < 0 ? 0 : n > max ? max : n;
}

/** The 8-connected regions of map pixels above the threshold, in scan order of their first pixel. */
function regions(map: Float32Array, width: number, height: number): Region[] {
  const n = width * height;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const found: Region[] = [];
  for (let start = 0; start < n && found.length < DETECTION.maxCandidates; start++) {
    if (seen[start] === 1 || !((map[start] as number) > DETECTION.threshold)) continue;
    const region: Region = { minX: width, minY: height, maxX: -1, maxY: -1, sum: 0, count: 0 };
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const i = stack[--top] as number;
      const x = i % width;
      const y = (i - x) / width;
      if (x < region.minX) region.minX = x;
      if (x > region.maxX) region.maxX = x;
      if (y < region.minY) region.minY = y;
      if (y > region.maxY) region.maxY = y;
      region.sum += map[i] as number;
      region.count++;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (seen[j] === 1 || !((map[j] as number) > DETECTION.threshold)) continue;
          seen[j] = 1;
          stack[top++] = j;
        }
      }
    }
    found.push(region);
  }
  return found;
}

/**
 * Top to bottom, then left to right among boxes whose top edges are within
 * {@link DETECTION.sameLine} pixels of each other (PaddleOCR's order).
 */
export function readingOrder(boxes: readonly Box[]): Box[] {
  const sorted = [...boxes].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  for (let i = 0; i < sorted.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const a = sorted[j] as Box;
      const b = sorted[j + 1] as Box;
      if (Math.abs(b[1] - a[1]) < DETECTION.sameLine && b[0] < a[0]) {
        sorted[j] = b;
        sorted[j + 1] = a;
      } else {
        break;
      }
    }
  }
  return sorted;
}
