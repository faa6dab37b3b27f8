/**
 * Reading a cropped text line: the direction classifier's input (is the line
 * upside down?), the recogniser's input, the key list and greedy CTC decoding
 * of the recogniser's per-step class probabilities.
 */
import type { Normalisation, Rgb } from './image.ts';
import { resizeInto } from './image.ts';

/** Pixels to [-1, 1]: `(v / 255 - 0.5) / 0.5`. */
export const HALF_NORMALISATION: Normalisation = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

export const CLASSIFIER = {
  height: 48,
  width: 192,
  /** Lines per classifier run. */
  batch: 8,
  /** A line is turned when class 1 ("180 degrees") has a probability above this. */
  threshold: 0.9,
} as const;

export const RECOGNISER = {
  height: 48,
  /** Lines are padded to at least this width. */
  minWidth: 320,
  /** Longer lines are squeezed to this width (80 times the height). */
  maxWidth: 3840,
  /** Lines read with a lower mean confidence are dropped. */
  dropScore: 0.5,
} as const;

/** The width a line is scaled to at `height`, keeping its aspect ratio, at most `max`. */
function scaledWidth(line: Rgb, height: number, max: number): number {
  return Math.max(1, Math.min(max, Math.ceil((height * line.width) / line.height)));
}

/** The classifier's `[lines.length, 3, 48, 192]` input: each line scaled to height 48, padded on the right. */
export function classifierInput(lines: readonly Rgb[]): Float32Array {
  const { height, width } = CLASSIFIER;
  const out = new Float32Array(lines.length * 3 * height * width);
  lines.forEach((line, i) => {
    resizeInto(line, scaledWidth(line, height, width), height, out, i, width, HALF_NORMALISATION);
  });
  return out;
}

/** The recogniser's `[1, 3, 48, width]` input for one line, and that width. */
export function recogniserInput(line: Rgb): { data: Float32Array; width: number } {
  const { height, minWidth, maxWidth } = RECOGNISER;
  const scaled = scaledWidth(line, height, maxWidth);
  const width = Math.max(minWidth, scaled);
  const data = new Float32Array(3 * height * width);
  resizeInto(line, scaled, height, data, 0, width, HALF_NORMALISATION);
  return { data, width };
}

/**
 * The recogniser's classes from a key-list file (UTF-8, one key a line):
 * class 0 is the CTC blank, then the keys in order, then a space.
 */
export function parseKeys(bytes: Uint8Array): string[] {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const keys = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (keys.at(-1) === '') keys.pop();
  return ['', ...keys, ' '];
}

/**
 * Greedy CTC decoding of `[steps, classes]` probabilities: the most likely
 * class at each step, repeats merged, blanks (class 0) dropped. The
 * confidence is the mean probability of the classes kept (0 for no text).
 */
export function ctcDecode(
  probs: Float32Array,
  steps: number,
  classes: readonly string[],
): { text: string; confidence: number } {
  const n = classes.length;
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const row = t * n;
    let best = 0;
    let bestP = probs[row] as number;
    for (let c = 1; c < n; c++) {
      const p = probs[row + c] as number;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += classes[best] as string;
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}
